// Package kibana ships Vigil's Kibana saved objects and imports them.
//
// The objects live in vigil.ndjson, embedded into the binary, in the
// saved-object export format of Kibana 8.x: the data views vigil-alerts*
// and vigil-verdicts*, the Lens visualizations and the dashboard
// "Vigil — SOC overview", and the saved search "Triage queue".
// SavedObjects returns them; Setup (behind `vigil kibana setup`) sends
// them to Kibana's saved-objects import API with overwrite=true and
// writes one line per object (imported, or the error Kibana gave) to a
// writer. Nothing else enters or leaves: the package keeps no state.
package kibana
