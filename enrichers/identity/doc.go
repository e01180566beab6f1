// Package identity adds who a user is, from a user directory exported to
// CSV (header row) or YAML (a list): full name, e-mail, department, groups,
// roles and whether the account is privileged.
//
// Files are read by New and again by Reload when one changed on disk.
// Events enter through Enricher.Enrich, which looks up user.name
// (case-insensitive; DOMAIN\name and name@domain are also tried as name)
// and writes ECS user.full_name, user.email, user.roles and user.group.name
// (a list) when the event has none, and vigil.user.department and
// vigil.user.privileged, which ECS has no field for. Lookup backs the
// user_info() rule function.
package identity
