// Package verify proves that two data sources hold the same data, or lists
// how they differ: the evidence that a data migration may be finished.
//
// Each side is a SQL query on SQLite or PostgreSQL whose first column is a
// unique key (integer or string) and whose other columns are compared by
// position ([Source]). [Compare] returns a [Result]: rows on each side, keys
// missing in new, extra in new, and differing, with the differing columns
// grouped by signature as the diff package writes them.
//
// # Algorithm
//
// The key space is cut into ranges of about [Options].ChunkRows rows
// (integer keys by value between the smallest and largest key, string keys
// at every ChunkRows-th key). For each range, each database computes a count
// and a checksum itself — the sum, modulo 2^64, of a 64-bit hash of each
// row's canonical text (PostgreSQL's hashtextextended, ported to Go for
// SQLite; md5 where a server's hash differs from the port) — so only two numbers
// cross the network. Ranges whose counts and checksums agree are settled;
// the others are split into [Options].Factor parts, again and again, until a
// range holds at most [Options].Threshold rows (by default, a differing
// first range is not split); then each row's key and hash are fetched,
// which shows the missing and extra keys, and the values of the keys whose
// hashes differ are fetched and compared column by column. Identical data
// costs one scan of each side; the extra cost grows with the number of
// differences, not with the size of the tables. This is the approach of
// data-diff/reladiff's hashdiff and of pt-table-checksum's chunks, written
// for cutover.
//
// Between two sides of one engine (two SQLite databases, or two PostgreSQL
// queries whose columns have the same types), rows are hashed raw, as the
// engine holds them — on PostgreSQL each value hashed by its type's own
// hash function (by its text for types without a suitable one), on SQLite
// its storage class and bytes — which skips the canonical forms' rounding,
// parsing and text. Rows that are raw-equal are equal; rows whose raw
// hashes differ may differ in storage only (1.5 and 1.50, floats apart by
// less than the precision), so their canonical values are fetched and
// compared before anything is reported, and a range where most rows differ
// so is hashed again canonically. Between SQLite and PostgreSQL, rows are
// hashed canonically.
//
// # Canonical values
//
// Two engines agree on equal data because every value is turned into the
// same canonical text before it is hashed, in SQL on PostgreSQL and in a Go
// aggregate registered on the SQLite driver (SQLite has no md5):
//
//   - integers: decimal text;
//   - decimals: rounded half away from zero to [Options].FloatPrecision
//     decimal places (a float compared with a decimal through 15
//     significant digits, as PostgreSQL's float8-to-numeric does);
//   - floats compared with floats (double precision, SQLite REAL): x·10^p
//     rounded half to even in float64 arithmetic, p the precision, as an
//     integer (exact on both engines, and several times cheaper in SQL than
//     a decimal), while |x·10^p| < 2^53; larger floats, NaN and infinities
//     as decimals;
//   - timestamps: microseconds since 1970 in UTC, floored to
//     [Options].TimePrecision (a timestamp without a time zone is UTC; SQLite
//     text such as "2024-05-01 10:00:00.1234" and Unix seconds are read);
//   - dates: YYYY-MM-DD; booleans: 1 or 0; UUIDs: trimmed, lowercase;
//     bytes: lowercase hex; text: as it is.
//
// The kind of each column pair comes from the declared types, PostgreSQL's
// winning over SQLite's (whose values may be stored as text). NULL is
// distinct from every string, the empty string and 'NULL' included: values
// are quoted the way PostgreSQL's quote_nullable quotes them before being
// joined into the row text.
//
// # Safety
//
// Sources are only read: SQLite files are opened with mode=ro and
// query_only; PostgreSQL connections run in READ ONLY transactions at
// REPEATABLE READ that share one exported snapshot, so every query sees the
// same data even while it changes. At most [Options].Concurrency queries run
// at once on each database (SQLite: one, on one connection, for one
// snapshot), no checksum covers more than about ChunkRows rows, and
// [Options].Where leaves out rows that are still changing.
//
// String keys are ordered by bytes on both engines (COLLATE "C" on
// PostgreSQL): for fast ranges on a database whose collation is not C, give
// the key an index with COLLATE "C".
package verify
