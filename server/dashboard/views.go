package dashboard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server"
)

// windows are the stats windows a migration page offers, each with the
// step of its series (60 to 96 points).
var windows = []struct {
	Name         string
	Window, Step time.Duration
}{
	{"1h", time.Hour, time.Minute},
	{"6h", 6 * time.Hour, 5 * time.Minute},
	{"24h", 24 * time.Hour, 15 * time.Minute},
	{"7d", 7 * 24 * time.Hour, 2 * time.Hour},
}

func windowOf(r *http.Request) (name string, window, step time.Duration) {
	q := r.URL.Query().Get("window")
	for _, w := range windows {
		if w.Name == q {
			return w.Name, w.Window, w.Step
		}
	}
	return windows[0].Name, windows[0].Window, windows[0].Step
}

// ---- overview ----

type overviewView struct {
	Rows []overviewRow
}

type overviewRow struct {
	Name        string
	Description string
	Rollout     string
	Mode        string
	Treatment   string
	Percent     string
	Partial     bool
	Compared    int64
	MatchRate   string
	Sparkline   any
	Gate        gateView
	Last        *changeView
}

func (h *Handler) overviewData(ctx context.Context) (overviewView, error) {
	ms, err := h.svc.Migrations(ctx)
	if err != nil {
		return overviewView{}, err
	}
	now := h.now()
	v := overviewView{Rows: make([]overviewRow, 0, len(ms))}
	for _, m := range ms {
		st, err := h.svc.Stats(ctx, m.Name, time.Hour, time.Minute)
		if err != nil {
			return overviewView{}, err
		}
		row := overviewRow{
			Name: m.Name, Description: m.Description, Rollout: describe(m.Rollout),
			Mode: m.Rollout.Mode.String(), Treatment: m.Rollout.Treatment.String(),
			Percent: percentNumber(m.Rollout.Percent), Compared: st.Compared,
			MatchRate: "—", Sparkline: sparkline(st.Series),
			Gate: gateSummary(st.Gates, m.Gates, topMode(m.Rollout)),
		}
		_, uni := uniform(m.Rollout)
		row.Partial = !uni
		if st.Compared > 0 {
			row.MatchRate = pct(float64(st.Counts[cutover.OutcomeMatch]) / float64(st.Compared))
		}
		hist, err := h.svc.History(ctx, m.Name, 0, 1)
		if err != nil {
			return overviewView{}, err
		}
		if len(hist) > 0 {
			c := changeOf(hist[len(hist)-1], now)
			row.Last = &c
		}
		v.Rows = append(v.Rows, row)
	}
	return v, nil
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := h.overviewData(r.Context())
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "overview", h.layout(s, "Migrations", v))
	return nil
}

func (h *Handler) overviewFragment(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := h.overviewData(r.Context())
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "fragment:overview", h.layout(s, "", v))
	return nil
}

// ---- one migration ----

type changeView struct {
	ID        int64
	Time      time.Time
	Ago       string
	Actor     string
	Kind      string
	Move      string
	Reason    string
	Forced    bool
	Automatic bool
	Figures   []figureView
}

func changeOf(c api.Change, now time.Time) changeView {
	v := changeView{
		ID: c.ID, Time: c.Time, Ago: ago(now, c.Time), Actor: c.Actor, Kind: c.Kind,
		Reason: c.Reason, Forced: c.Forced, Automatic: c.Automatic, Figures: figures(c.Figures),
	}
	switch c.Kind {
	case "created":
		v.Move = "created at " + describe(c.To)
	case "verify":
		v.Move = "verify report recorded"
		v.Figures = figures(c.Figures)
	default:
		v.Move = describeMove(c.From, c.To)
	}
	return v
}

type phaseView struct {
	Mode  string
	State string // "done", "current", "todo", "skipped"
	Share string // "100%", "10%"
	Role  string // "all keys", "control", "treatment"
}

// timeline places a rollout on old → shadow → reverse-shadow → new.
func timeline(r cutover.Rollout) []phaseView {
	share := map[cutover.Mode]float64{}
	if m, ok := uniform(r); ok {
		share[m] = 100
	} else {
		share[r.Mode] = math.Round((100-r.Percent)*100) / 100
		share[r.Treatment] = r.Percent
	}
	lo, hi := r.Mode, topMode(r)
	if m, ok := uniform(r); ok {
		lo, hi = m, m
	} else if r.Treatment < lo {
		lo = r.Treatment
	}
	out := make([]phaseView, 0, len(cutover.Modes))
	for _, m := range cutover.Modes {
		p := phaseView{Mode: m.String()}
		switch sh, inUse := share[m]; {
		case inUse:
			p.State = "current"
			p.Share = percentNumber(sh) + "%"
			switch {
			case sh == 100:
				p.Role = "all keys"
			case m == r.Mode:
				p.Role = "control"
			default:
				p.Role = "treatment"
			}
		case m < lo:
			p.State = "done"
		case m > hi:
			p.State = "todo"
		default:
			p.State = "skipped"
		}
		out = append(out, p)
	}
	return out
}

type groupView struct {
	Signature string
	Outcome   string
	Count     int64
	Share     string
	FirstSeen time.Time
	LastSeen  time.Time
	FirstAgo  string
	LastAgo   string
	Rows      []sampleRow
}

// sampleRow is one line of a group's samples: a differing path with both
// values, or one side's error. Key is set on a sample's first line.
type sampleRow struct {
	Key      string
	Time     time.Time
	First    bool
	Path     string
	Old, New string
	Failed   string // "old failed", "new failed" for error lines
}

func sampleRows(samples []api.Sample) []sampleRow {
	var rows []sampleRow
	for _, sm := range samples {
		n := len(rows)
		for _, d := range sm.Diffs {
			p := d.Path
			if p == "" {
				p = "(root)"
			}
			rows = append(rows, sampleRow{Path: p, Old: d.Old, New: d.New})
		}
		if sm.OldError != "" {
			rows = append(rows, sampleRow{Failed: "old failed", Old: sm.OldError})
		}
		if sm.NewError != "" {
			rows = append(rows, sampleRow{Failed: "new failed", New: sm.NewError})
		}
		if len(rows) == n {
			rows = append(rows, sampleRow{Failed: "no details"})
		}
		rows[n].Key, rows[n].Time, rows[n].First = sm.Key, sm.Time, true
	}
	return rows
}

// stepView is one of the advance / roll back buttons.
type stepView struct {
	Target   string // describe(target)
	Disabled string // why not, when it cannot be done
}

type controlsView struct {
	CanChange bool
	Version   int64
	Advance   stepView
	Back      stepView
	Modes     []string
	Treatment string
	Percent   string
}

type noticeView struct {
	Kind     string // "ok", "conflict", "refused", "error"
	Title    string
	Message  string
	Criteria []criterionView
}

type migrationView struct {
	Name        string
	Description string
	Version     int64
	Rollout     string
	Timeline    []phaseView
	Window      string
	Windows     []string
	Compared    int64
	MatchRate   string
	MismatchCI  string
	Charts      []chartView
	Gate        gateView
	Groups      []groupView
	History     []changeView
	Controls    controlsView
	Notice      *noticeView
	Query       string // "?window=…" for the fragment URL
	Overrides   []figureView
}

func (h *Handler) migrationData(r *http.Request, s *session, name string) (migrationView, error) {
	ctx := r.Context()
	m, err := h.svc.Migration(ctx, name)
	if err != nil {
		return migrationView{}, err
	}
	wname, window, step := windowOf(r)
	st, err := h.svc.Stats(ctx, name, window, step)
	if err != nil {
		return migrationView{}, err
	}
	groups, err := h.svc.Mismatches(ctx, name, window)
	if err != nil {
		return migrationView{}, err
	}
	hist, err := h.svc.History(ctx, name, 0, 100)
	if err != nil {
		return migrationView{}, err
	}
	now := h.now()
	v := migrationView{
		Name: m.Name, Description: m.Description, Version: m.Version,
		Rollout: describe(m.Rollout), Timeline: timeline(m.Rollout),
		Window: wname, Compared: st.Compared, MatchRate: "—",
		Charts: charts(st, markersOf(hist)),
		Gate:   gateSummary(st.Gates, m.Gates, topMode(m.Rollout)),
		Query:  "?window=" + url.QueryEscape(wname),
	}
	for _, w := range windows {
		v.Windows = append(v.Windows, w.Name)
	}
	if st.Compared > 0 {
		v.MatchRate = pct(float64(st.Counts[cutover.OutcomeMatch]) / float64(st.Compared))
		v.MismatchCI = fmt.Sprintf("mismatch rate %s (95%% interval %s to %s)", pct(st.MismatchRate.Value), pct(st.MismatchRate.Lower), pct(st.MismatchRate.Upper))
	}
	for k, mode := range m.Rollout.Overrides {
		v.Overrides = append(v.Overrides, figureView{Name: k, Value: mode.String()})
	}
	slices.SortFunc(v.Overrides, func(a, b figureView) int { return strings.Compare(a.Name, b.Name) })
	for _, g := range groups {
		v.Groups = append(v.Groups, groupView{
			Signature: g.Signature, Outcome: g.Outcome.String(), Count: g.Count, Share: pct(g.Share),
			FirstSeen: g.FirstSeen, LastSeen: g.LastSeen, FirstAgo: ago(now, g.FirstSeen), LastAgo: ago(now, g.LastSeen),
			Rows: sampleRows(g.Samples),
		})
	}
	for i := len(hist) - 1; i >= 0; i-- {
		v.History = append(v.History, changeOf(hist[i], now))
	}
	v.Controls = controlsOf(m, s)
	return v, nil
}

func controlsOf(m api.Migration, s *session) controlsView {
	c := controlsView{CanChange: s.canChange(), Version: m.Version, Treatment: m.Rollout.Treatment.String(), Percent: percentNumber(m.Rollout.Percent)}
	for _, mode := range cutover.Modes {
		c.Modes = append(c.Modes, mode.String())
	}
	if to, err := step(m.Rollout, "advance"); err != nil {
		c.Advance.Disabled = err.Error()
	} else {
		c.Advance.Target = describe(to)
	}
	if to, err := step(m.Rollout, "back"); err != nil {
		c.Back.Disabled = err.Error()
	} else {
		c.Back.Target = describe(to)
	}
	return c
}

// step computes the rollout one step forward or back. A split rollout
// (some keys in treatment) advances by moving every key to the further of
// its two modes, and rolls back by moving every key to the nearer.
// Overrides are kept.
func step(r cutover.Rollout, dir string) (cutover.Rollout, error) {
	var target cutover.Mode
	if m, ok := uniform(r); ok {
		switch {
		case dir == "advance" && m == cutover.ModeNew:
			return r, errors.New("already at new: there is no further step")
		case dir == "back" && m == cutover.ModeOld:
			return r, errors.New("already at old: there is no earlier step")
		case dir == "advance":
			target = m + 1
		default:
			target = m - 1
		}
	} else {
		lo, hi := r.Mode, r.Treatment
		if hi < lo {
			lo, hi = hi, lo
		}
		target = lo
		if dir == "advance" {
			target = hi
		}
	}
	out := cutover.Rollout{Mode: target, Treatment: target, Percent: 0}
	if len(r.Overrides) > 0 {
		out.Overrides = r.Clone().Overrides
	}
	return out, nil
}

func (h *Handler) migration(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := h.migrationData(r, s, r.PathValue("name"))
	if err != nil {
		return err
	}
	if id, err := strconv.ParseInt(r.URL.Query().Get("changed"), 10, 64); err == nil {
		for _, c := range v.History {
			if c.ID == id {
				v.Notice = &noticeView{Kind: "ok", Title: "Changed", Message: c.Move + " — " + c.Reason}
				break
			}
		}
	}
	h.render(w, r, http.StatusOK, "migration", h.layout(s, v.Name, v))
	return nil
}

func (h *Handler) migrationFragment(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := h.migrationData(r, s, r.PathValue("name"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "fragment:migration", h.layout(s, "", v))
	return nil
}

// ---- changes ----

type confirmView struct {
	Name      string
	Version   int64
	Move      string
	From      string
	To        string
	Mode      string
	Treatment string
	Percent   string
	Reason    string
	Forward   bool
}

// proposal reads a control form: the target rollout it asks for, based on
// the migration m at the version the form names.
func proposal(m api.Migration, form url.Values) (cutover.Rollout, error) {
	switch a := form.Get("action"); a {
	case "advance", "back":
		to, err := step(m.Rollout, a)
		if err != nil {
			return to, server.Invalid("action", "%v", err)
		}
		return to, nil
	case "set":
		t, err := cutover.ParseMode(form.Get("treatment"))
		if err != nil {
			return cutover.Rollout{}, server.Invalid("treatment", "%v", err)
		}
		p, err := strconv.ParseFloat(strings.TrimSpace(form.Get("percent")), 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 100 {
			return cutover.Rollout{}, server.Invalid("percent", "%q is not a percent from 0 to 100", form.Get("percent"))
		}
		to := m.Rollout.Clone()
		to.Treatment, to.Percent = t, p
		return to, nil
	case "apply":
		mode, err := cutover.ParseMode(form.Get("mode"))
		if err != nil {
			return cutover.Rollout{}, server.Invalid("mode", "%v", err)
		}
		t, err := cutover.ParseMode(form.Get("treatment"))
		if err != nil {
			return cutover.Rollout{}, server.Invalid("treatment", "%v", err)
		}
		p, err := strconv.ParseFloat(form.Get("percent"), 64)
		if err != nil {
			return cutover.Rollout{}, server.Invalid("percent", "%q is not a number", form.Get("percent"))
		}
		to := m.Rollout.Clone()
		to.Mode, to.Treatment, to.Percent = mode, t, p
		return to, nil
	}
	return cutover.Rollout{}, server.Invalid("action", "%q is not advance, back or set", form.Get("action"))
}

// formVersion reads the version a form was rendered with.
func formVersion(form url.Values) (int64, error) {
	v, err := strconv.ParseInt(form.Get("version"), 10, 64)
	if err != nil || v <= 0 {
		return 0, server.Invalid("version", "the form carries no rollout version: reload the page and try again")
	}
	return v, nil
}

// confirm shows what a control form would change, and asks again.
func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("name")
	m, err := h.svc.Migration(r.Context(), name)
	if err != nil {
		return err
	}
	version, err := formVersion(r.PostForm)
	if err != nil {
		return err
	}
	if version != m.Version {
		return h.refuse(w, r, s, name, h.conflict(r.Context(), name, version, m.Version))
	}
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if reason == "" {
		return h.refuse(w, r, s, name, server.Invalid("reason", "is required: say why the rollout changes, it goes into the audit history"))
	}
	to, err := proposal(m, r.PostForm)
	if err != nil {
		return h.refuse(w, r, s, name, err)
	}
	if to.Percent <= 0 {
		to.Treatment = to.Mode // a treatment for no keys means nothing; keep the record plain
	}
	if err := to.Validate(); err != nil {
		return h.refuse(w, r, s, name, server.Invalid("rollout", "%s", strings.TrimPrefix(err.Error(), "rollout: ")))
	}
	v := confirmView{
		Name: name, Version: m.Version, Move: describeMove(m.Rollout, to),
		From: describe(m.Rollout), To: describe(to),
		Mode: to.Mode.String(), Treatment: to.Treatment.String(), Percent: percentNumber(to.Percent),
		Reason: reason, Forward: topMode(to) > topMode(m.Rollout),
	}
	h.render(w, r, http.StatusOK, "confirm", h.layout(s, "Confirm: "+name, v))
	return nil
}

// apply makes a confirmed change, as the signed-in token.
func (h *Handler) apply(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("name")
	m, err := h.svc.Migration(r.Context(), name)
	if err != nil {
		return err
	}
	version, err := formVersion(r.PostForm)
	if err != nil {
		return err
	}
	form := r.PostForm
	form.Set("action", "apply")
	to, err := proposal(m, form)
	if err != nil {
		return h.refuse(w, r, s, name, err)
	}
	// The overrides are those of the version the form was based on; when
	// that version is stale the service refuses the change anyway.
	_, c, err := h.svc.SetRollout(r.Context(), s.principal.Name, name, api.RolloutChange{
		Mode: to.Mode, Treatment: to.Treatment, Percent: to.Percent, Overrides: to.Overrides,
		Reason: form.Get("reason"), Version: version,
	})
	if err != nil {
		if server.ErrorCode(err) == api.CodeConflict {
			var e *server.Error
			if errors.As(err, &e) && e.CurrentVersion > 0 {
				err = h.conflict(r.Context(), name, version, e.CurrentVersion)
			}
		}
		return h.refuse(w, r, s, name, err)
	}
	http.Redirect(w, r, "/migrations/"+url.PathEscape(name)+"?changed="+strconv.FormatInt(c.ID, 10), http.StatusSeeOther)
	return nil
}

// conflict describes a stale form: who changed the migration since.
func (h *Handler) conflict(ctx context.Context, name string, formVersion, current int64) error {
	msg := fmt.Sprintf("This page showed version %d of the rollout, but it is now at version %d: someone changed it in the meantime. Nothing was changed. Review the current rollout below, then decide again.", formVersion, current)
	hist, _ := h.svc.History(ctx, name, 0, 10) // without it, the message above still holds
	for i := len(hist) - 1; i >= 0; i-- {
		c := hist[i]
		if c.Kind != "rollout" || c.Version != current {
			continue
		}
		msg = fmt.Sprintf("This page showed version %d of the rollout, but %s changed it to version %d (%s — %q). Nothing was changed. Review the current rollout below, then decide again.",
			formVersion, c.Actor, current, describeMove(c.From, c.To), c.Reason)
		break
	}
	return &server.Error{Code: api.CodeConflict, Message: msg, CurrentVersion: current}
}

// refuse renders the migration page with what stopped a change.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, s *session, name string, err error) error {
	var e *server.Error
	if !errors.As(err, &e) || e.Code == api.CodeInternal || e.Code == api.CodeNotFound {
		return err
	}
	n := &noticeView{Kind: "error", Title: "Not changed", Message: e.Message}
	switch e.Code {
	case api.CodeConflict:
		n.Kind, n.Title = "conflict", "Conflict: the rollout changed since this page was loaded"
	case api.CodeGateRefused:
		n.Kind, n.Title = "refused", "Promotion refused by the gates"
		n.Message = "The evidence in the current mode is not enough yet. Nothing was changed."
		if e.Gate != nil {
			for _, c := range e.Gate.Criteria {
				if !c.Pass {
					n.Criteria = append(n.Criteria, criterionView{
						Label: criterionLabel(c.Criterion), Message: c.Message, Words: criterionWords(c),
						Threshold: criterionValue(c.Criterion, c.Threshold), Measured: criterionValue(c.Criterion, c.Measured),
					})
				}
			}
		}
	case api.CodeTransition:
		n.Title = "Not one step"
	}
	v, verr := h.migrationData(r, s, name)
	if verr != nil {
		return verr
	}
	v.Notice = n
	h.render(w, r, api.HTTPStatus(e.Code), "migration", h.layout(s, v.Name, v))
	return nil
}
