package chaincases

import (
	"fmt"
	"reflect"
	"strings"
)

// Got is what a run of a row produced, by whichever implementation.
type Got struct {
	Log      []string
	HaveLog  bool      // the last filter's log line was found
	Upstream *Upstream // nil: no complete request reached the upstream
	Client   Client
}

// Compare returns "" when got matches the row's expectation, else what
// differs.
func Compare(c *Case, got Got) string {
	var d []string
	w := c.Want
	if !got.HaveLog {
		d = append(d, "no log line")
	} else if strings.Join(got.Log, " ") != strings.Join(w.Log, " ") {
		d = append(d, fmt.Sprintf("log\n\t got %s\n\twant %s", strings.Join(got.Log, " "), strings.Join(w.Log, " ")))
	}
	switch {
	case (w.Upstream == nil) != (got.Upstream == nil):
		d = append(d, fmt.Sprintf("upstream request %+v, want %+v", got.Upstream, w.Upstream))
	case w.Upstream != nil:
		u, g := *w.Upstream, *got.Upstream
		if u.Method != g.Method || u.Path != g.Path || u.Body != g.Body || !eqList(u.Chain, g.Chain) || !eqMap(u.Trailers, g.Trailers) {
			d = append(d, fmt.Sprintf("upstream request %+v, want %+v", g, u))
		}
	}
	wc, gc := w.Client, got.Client
	if wc.Reset || gc.Reset {
		if wc.Reset != gc.Reset {
			d = append(d, fmt.Sprintf("client response %+v, want %+v", gc, wc))
		}
	} else if wc.Status != gc.Status || wc.Body != gc.Body || wc.ContentType != gc.ContentType || !eqList(wc.Resp, gc.Resp) ||
		wc.Reply != gc.Reply || !eqMap(wc.Trailers, gc.Trailers) {
		d = append(d, fmt.Sprintf("client response %+v, want %+v", gc, wc))
	}
	return strings.Join(d, "; ")
}

func eqList(a, b []string) bool { return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b)) }

func eqMap(a, b map[string]string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}
