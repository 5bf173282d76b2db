// Package rolloutfile is a [cutover.Source] backed by a JSON file that is
// watched and reloaded when it changes, so a migration's rollout moves
// without a restart or a deploy: edit the file, or update the Kubernetes
// ConfigMap it is mounted from.
//
//	src, err := rolloutfile.Open("/etc/cutover/rollouts.json", rolloutfile.Options{Registerer: reg})
//	if err != nil {
//		return err // missing or invalid: the error says where
//	}
//	defer src.Close()
//	m, err := cutover.New(cutover.Config{Name: "orders-customer-id", Source: src})
//
// # The file
//
// One object, "migrations", maps each migration's name to its rollout in
// [cutover.Rollout]'s JSON form:
//
//	{
//	  "migrations": {
//	    "orders-customer-id": {
//	      "mode": "shadow",
//	      "treatment": "reverse-shadow",
//	      "percent": 5,
//	      "overrides": {"tenant-test": "new"}
//	    },
//	    "invoices-v2": {"mode": "old"}
//	  }
//	}
//
// The fields of a rollout:
//
//   - mode is the control mode: old, shadow, reverse-shadow or new
//     (case-insensitive). Omitted: old.
//   - treatment is the mode of the keys whose bucket falls under percent.
//     Omitted: old.
//   - percent is the share of keys in treatment, 0 to 100, at most two
//     decimals. Omitted: 0.
//   - overrides pins keys to a mode whatever their bucket. Optional.
//
// Any other field, at any level, is an error, so that a misspelt "percnt"
// is not silently ignored. Each rollout must pass [cutover.Rollout.Validate].
// Errors are [*ParseError]s that name the file, line, column and field:
//
//	rollouts.json:4:15: migrations["orders-customer-id"].mode: invalid mode "shaddow": want one of old, shadow, reverse-shadow, new
//
// # Reloading
//
// [Open] reads the file once: a missing or invalid file at start is an
// error. Then it watches the file's directory, not the file, because the
// usual ways to replace a file never write to it: an editor writes a
// temporary file and renames it over the old one, and Kubernetes updates a
// ConfigMap volume by swapping its "..data" symlink. Events on the file's
// name and on names beginning with ".." trigger a read; a burst of events
// is coalesced into one read [Options].Debounce after the last of them.
// When the path is a symlink to a file in another directory, that directory
// is watched too (and the watch moves when the symlink does), so edits of
// the real file are seen as well.
//
// A read that fails (the file is missing, half-written, not JSON, or holds
// an invalid rollout) changes nothing: the last good rollouts stay in
// force, the error is logged, counted in [Status].ReloadErrors and the
// cutover_rollout_file_reload_errors_total metric, and kept in
// [Status].LastError until a good read. A read that succeeds delivers to
// each subscriber only the rollouts that changed ([cutover.Rollout.Equal]).
//
// A migration removed from the file keeps its last rollout in the
// migrations already following it, and a warning is logged: removing a
// line should not silently move traffic back to the old side. (A process
// that starts afterwards does not see it, and uses its
// [cutover.Config].Rollout.)
package rolloutfile
