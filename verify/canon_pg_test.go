package verify

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestCanonMatchesPostgres holds the Go canonical forms (SQLite's side) to
// the SQL ones (PostgreSQL's side) on many generated values.
func TestCanonMatchesPostgres(t *testing.T) {
	d := newPostgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET timezone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	floats := []float64{0, math.Copysign(0, -1), 0.5, 1.5, 2.5, -2.5, 0.125, 1e-10, 5e-10, -5e-10, 1e20, 123456789.123456789, math.MaxFloat32, 1234567890123455, 0.1 + 0.2,
		1.005, 2.675, 0.015, 0.0000000005, -0.0000000015, math.Inf(1), math.Inf(-1), 1e300, -1e300, math.SmallestNonzeroFloat64,
		// Around kindFloat's limits (2^53 / 10^places) for 1, 2 and 9 places.
		9007199254740.991, 9007199254740.992, 900719925474099.1, 900719925474099.2, 90071992547409.91, 90071992547409.92, 9007199.254740991, 9007199.254740992, -9007199.254740992}
	for range 2000 {
		floats = append(floats, (rng.Float64()-0.5)*math.Pow(10, float64(rng.IntN(24)-12)))
	}
	times := []time.Time{time.Unix(0, 0), time.Unix(-1, 500000), time.Date(1900, 1, 1, 0, 0, 0, 999999000, time.UTC), time.Date(2200, 12, 31, 23, 59, 59, 999999000, time.UTC)}
	for range 2000 {
		times = append(times, time.UnixMicro(rng.Int64N(8e15)-4e15).UTC())
	}
	for _, places := range []int{1, 2, 9} {
		for _, micros := range []int64{1, 1000, 1000000} {
			n := normalizer{places: places, micros: micros}
			check := func(what, oidName string, oid uint32, k kind, vals any, goCanon func(i int) string, count int) {
				q := "SELECT " + pgCanon(k, oid, "x", n) + " FROM unnest($1::" + oidName + "[]) WITH ORDINALITY AS u(x, i) ORDER BY i"
				rows, err := conn.Query(ctx, q, vals)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				i := 0
				for rows.Next() {
					var s string
					if err := rows.Scan(&s); err != nil {
						t.Fatal(err)
					}
					if want := goCanon(i); s != want {
						t.Errorf("%s %d places %dµs: value %d: postgres %q, Go %q", what, n.places, micros, i, s, want)
					}
					i++
				}
				rows.Close()
				if err := rows.Err(); err != nil || i != count {
					t.Fatalf("%s: %d rows, %v", what, i, err)
				}
			}
			check("float8", "float8", pgtype.Float8OID, kindNum, floats, func(i int) string { return canonText(n.canonValue(kindNum, floats[i])) }, len(floats))
			check("float8 as float", "float8", pgtype.Float8OID, kindFloat, floats, func(i int) string { return canonText(n.canonValue(kindFloat, floats[i])) }, len(floats))
			check("timestamptz", "timestamptz", pgtype.TimestamptzOID, kindTime, times, func(i int) string {
				return canonText(n.canonValue(kindTime, times[i].Format("2006-01-02 15:04:05.999999")))
			}, len(times))
			strs := make([]string, len(floats))
			for i, f := range floats {
				strs[i] = n.canonFloat(f) // a numeric held as text by SQLite
			}
			check("numeric", "numeric", pgtype.NumericOID, kindNum, strs, func(i int) string { return canonText(n.canonValue(kindNum, strs[i])) }, len(strs))
		}
	}
}

func canonText(s string, _ bool) string { return s }
