// Package kibanatest is a Kibana saved-objects API test server, because
// no Kibana can be reached from the build machines.
//
// NewServer starts an httptest server on 127.0.0.1 that answers
// POST [/s/{space}]/api/saved_objects/_import the way Kibana 8.x does:
// it checks the kbn-xsrf header and the credentials (401 without them),
// parses the multipart body (400 when it is not one, or has no "file"
// field with an .ndjson name) and the NDJSON inside, validates each
// object (known type, id, attributes, references that resolve within
// the file or to stored objects, else a per-object missing_references
// error), stores the valid ones and answers 200 with per-object results.
// GET [/s/{space}]/api/saved_objects/{type}/{id} returns a stored object.
// FailNext makes the next requests answer an error status (e.g. 503).
package kibanatest
