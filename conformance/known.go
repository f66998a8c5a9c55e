package conformance

import "strings"

// Known is a difference between the linux profile and the kernel that is
// understood: a mechanism the profile does not model yet, or a limit of
// running on a real kernel. Compare reports it with its reason and does
// not fail on it; a difference nobody explained still fails.
type Known struct {
	// Notebook is the notebook's name (a shipped one's, or a file's base
	// name without .md); Aspect the aspect; Where a prefix of the
	// difference's socket, connection or host ("" for any).
	Notebook string
	Aspect   Aspect
	Where    string
	// Why is the mechanism, with the kernel source.
	Why string
}

// Explain marks each difference of notebook's result that one of known
// explains. It returns the result with those differences moved to
// Explained.
func (r Result) Explain(notebook string, known []Known) Result {
	out := Result{Count: r.Count}
	for _, d := range r.Diffs {
		why := ""
		for _, k := range known {
			if k.Notebook == notebook && k.Aspect == d.Aspect && strings.HasPrefix(d.Where, k.Where) {
				why = k.Why
				break
			}
		}
		if why == "" {
			out.Diffs = append(out.Diffs, d)
			continue
		}
		d.Known = why
		out.Explained = append(out.Explained, d)
	}
	return out
}
