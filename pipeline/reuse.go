package pipeline

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"time"

	"github.com/llmbatch/llmbatch/io/results"
)

// Reuse (Config.Reuse): a row whose request is the same request as one an
// earlier journal finished ok is journalled from that answer, marked as
// reused, without sending anything. "The same request" is the endpoint
// plus the body's request_sha256: the body as sent, which llmbatch always
// encodes canonically (object keys sorted, no white space, strings in
// encoding/json's escaping, numbers as written: 1.0 and 1 differ), so a
// request built twice, from a template or from a Batch API line however
// its JSON was laid out, hashes the same (TestBuilder_CanonicalBody). The
// endpoint is the one named by the job that wrote the record (its
// fingerprint's parts; Responses when they name none).
//
// The index keeps, per finished ok request, 32 bytes of hash and where its
// line is (about 60 bytes a request with map overhead); the answer is
// read from the journal when a row matches.

// reuseIndex finds earlier answers to a request.
type reuseIndex struct {
	files []*os.File
	paths []string
	at    map[[32]byte]reuseLoc
}

type reuseLoc struct {
	file int32
	n    int32
	off  int64
}

// reuseKey is the index's key of a request: endpoint name and body hash.
func reuseKey(endpoint, sha string) [32]byte {
	return sha256.Sum256([]byte(endpoint + "\x00" + sha))
}

// expandReuse expands the patterns of Config.Reuse (globs allowed) into
// journal paths, leaving out the job's own journal; a pattern that matches
// nothing is an error.
func expandReuse(c *Config) ([]string, error) {
	var paths []string
	seen := map[string]bool{}
	own, _ := filepath.Abs(c.Output)
	for _, pat := range c.Reuse {
		m, err := filepath.Glob(pat)
		if err != nil {
			return nil, usageErrorf("%s %q: %v", c.name("Reuse"), pat, err)
		}
		if len(m) == 0 {
			return nil, usageErrorf("%s %q: no such journal", c.name("Reuse"), pat)
		}
		for _, p := range m {
			abs, _ := filepath.Abs(p)
			if abs == own || seen[abs] {
				continue
			}
			seen[abs] = true
			paths = append(paths, p)
		}
	}
	return paths, nil
}

// newReuseIndex indexes the finished ok records of the journals at paths.
func newReuseIndex(c *Config, paths []string) (*reuseIndex, error) {
	x := &reuseIndex{at: make(map[[32]byte]reuseLoc)}
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			x.close()
			return nil, usageErrorf("%s: %v", c.name("Reuse"), err)
		}
		x.files, x.paths = append(x.files, f), append(x.paths, p)
		endpoint := apis[0].Name()
		_, err = results.ReadEachAt(p, 0, func(rec *results.Record, off int64, n int) error {
			if rec.Job != nil {
				endpoint = apis[0].Name()
				if e := rec.Job.Parts["endpoint"]; e != "" {
					endpoint = e
				}
			}
			if rec.Error != nil || rec.RequestSHA256 == "" || n > 1<<30 {
				return nil
			}
			x.at[reuseKey(endpoint, rec.RequestSHA256)] = reuseLoc{file: int32(i), off: off, n: int32(n)}
			return nil
		})
		if err != nil {
			x.close()
			return nil, usageErrorf("%s %s: %v", c.name("Reuse"), p, err)
		}
	}
	return x, nil
}

func (x *reuseIndex) close() {
	for _, f := range x.files {
		f.Close()
	}
}

// lookup returns the record for req made from an earlier answer to the
// same request, or nil when there is none (or it cannot be read, or its
// output breaks req's schema).
func (x *reuseIndex) lookup(req *Request) *results.Record {
	loc, ok := x.at[reuseKey(req.API().Name(), req.sha)]
	if !ok {
		return nil
	}
	old, err := results.ReadRecordAt(x.files[loc.file], loc.off, int(loc.n))
	if err != nil || old.Error != nil || old.RequestSHA256 != req.sha {
		return nil
	}
	if req.schema != nil {
		if _, _, ok := req.schema.check(old.OutputText); !ok {
			return nil
		}
	}
	from := &results.Reused{Journal: x.paths[loc.file], Key: old.CustomID, Usage: old.Usage, Reask: old.Reask}
	if old.Reused != nil {
		from = old.Reused // reused there too: where it was answered
	}
	return &results.Record{CustomID: req.key, Index: req.index, Response: old.Response, OutputText: old.OutputText,
		Model: old.Model, RequestSHA256: req.sha, Input: req.keep, Time: time.Now().UTC(), Reused: from}
}

// reused journals req from an earlier answer, if Config.Reuse has one.
func (r *runner) reused(req *Request, out chan<- *results.Record) bool {
	if r.reuse == nil || req.pack != nil {
		return false
	}
	rec := r.reuse.lookup(req)
	if rec == nil {
		return false
	}
	out <- rec
	return true
}
