package verify

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes r for people: the verdict, the counts, the signatures
// of the differing rows, and the listed differences.
//
//	DIFFERENT: 3,000 rows in old, 3,001 in new
//	  missing in new  1
//	  extra in new    2
//	  differing       5
//	differing columns:
//	  3  .name
//	differences (first 20 by key):
//	  73   missing in new
//	  143  .name: "a" != "b"
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "IDENTICAL"
	if !r.Identical {
		verdict = "DIFFERENT"
	}
	fmt.Fprintf(&b, "%s: %s rows in old, %s in new\n", verdict, thousands(r.OldRows), thousands(r.NewRows))
	if !r.Identical {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  missing in new\t%s\n", thousands(r.Missing))
		fmt.Fprintf(tw, "  extra in new\t%s\n", thousands(r.Extra))
		fmt.Fprintf(tw, "  differing\t%s\n", thousands(r.Differing))
		tw.Flush()
	}
	if len(r.Signatures) > 0 {
		b.WriteString("differing columns:\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, s := range r.Signatures {
			fmt.Fprintf(tw, "  %s\t%s\t(%.1f%%)\n", thousands(s.Count), s.Signature, 100*float64(s.Count)/float64(max(r.Differing, 1)))
		}
		tw.Flush()
	}
	if len(r.Differences) > 0 {
		total := r.Missing + r.Extra + r.Differing
		if int64(len(r.Differences)) < total {
			fmt.Fprintf(&b, "differences (first %d of %s, by key):\n", len(r.Differences), thousands(total))
		} else {
			b.WriteString("differences:\n")
		}
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, d := range r.Differences {
			switch d.Kind {
			case MissingInNew:
				fmt.Fprintf(tw, "  %s\tmissing in new\n", d.Key)
			case ExtraInNew:
				fmt.Fprintf(tw, "  %s\textra in new\n", d.Key)
			default:
				parts := make([]string, len(d.Diffs))
				for i, x := range d.Diffs {
					parts[i] = x.String()
				}
				fmt.Fprintf(tw, "  %s\t%s\n", d.Key, strings.Join(parts, "; "))
			}
		}
		tw.Flush()
	}
	fmt.Fprintf(&b, "compared in %s: %s queries, %s rows fetched\n",
		r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond), thousands(r.Queries), thousands(r.RowsFetched))
	_, err := io.WriteString(w, b.String())
	return err
}

// thousands formats n with thousands separators: 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
