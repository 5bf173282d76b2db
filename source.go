package cutover

// Source delivers rollouts at run time: from a watched file (package
// rolloutfile), from the control plane (package client), or from any flag
// system that can call a function when a value changes.
//
// Subscribe calls update with the migration's rollout when it is known
// (before Subscribe returns, if it is known already) and again whenever it
// changes, until stop is called. update is cheap and never blocks, but a
// source must not call it concurrently for the same subscription. If the
// source knows nothing of the migration, it does not call update, and the
// migration keeps [Config].Rollout. Subscribe returns an error only when it
// cannot follow the migration at all.
type Source interface {
	Subscribe(migration string, update func(Rollout)) (stop func(), err error)
}

// StaticSource is a [Source] holding fixed rollouts by migration name, for
// tests and for services that configure rollouts at start.
type StaticSource map[string]Rollout

// Subscribe delivers the migration's rollout once, if present.
func (s StaticSource) Subscribe(migration string, update func(Rollout)) (func(), error) {
	if r, ok := s[migration]; ok {
		update(r.Clone())
	}
	return func() {}, nil
}
