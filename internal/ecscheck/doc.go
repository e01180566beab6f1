// Package ecscheck checks parsed events against the Elastic Common Schema
// for the parsers' tests: every field outside vigil.* and labels.* must
// be an ECS field (from the corpus's ecs/ecs_flat.yml) holding a value of
// a compatible type, and event.kind/category/type/outcome must hold
// allowed values, with each event.type expected for the event.category.
//
// Events enter through Check; problems leave as test errors, each reported
// once. Without the corpus the calling test is skipped.
package ecscheck
