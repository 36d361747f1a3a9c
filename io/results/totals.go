package results

import (
	"hash/maphash"
	"maps"
	"math"
	"sort"
	"strconv"

	"github.com/llmbatch/llmbatch/io/api"
)

// Totals accumulates a journal's records: each key's latest state (for row
// counts and the resume plan) and the usage of every line (every answered
// attempt was paid for, so a row answered twice counts twice). Keys are
// kept as hashes, not strings, in a table of 8-byte slots (10 to 15 bytes
// a key), so a job of ten million rows resumes in about 150 MB; two keys
// whose hashes collide would make one look finished as the other, with a
// probability near n²/2⁶³ (about 1·10⁻⁵ at ten million rows).
//
// A key that is a small decimal number in canonical form ("17", as every
// row of a job without ids has: its index) is kept in a dense array of 2
// bits a number instead, so such a job's resume state is 0.25 byte a row.
// Where a key is kept depends on the key alone.
//
// With KeepRequests, each key also keeps a 4-byte tag of its latest
// record's request_sha256 (RequestTag), so that a resume can tell a row
// whose request changed since it was journalled: 4 more bytes a key
// (4.25 bytes a row for index keys, 15 to 22.5 for others).
//
// The zero value is not usable; call NewTotals. Totals is not safe for
// concurrent use.
type Totals struct {
	seed     maphash.Seed
	state    keyTable
	dense    []uint8  // 4 states a byte, by row index, for index keys
	denseReq []uint32 // request tags by row index, when keepReq
	keepReq  bool
	ndense   int      // index keys with a state
	counts   [4]int64 // by Status
	// Usage sums every record's usage, per model ("" for unknown).
	Usage map[string]api.Usage
	// Tiers sums the usage of the records billed at a tier's prices
	// (Record.Tier), per tier and model; it is counted in Usage too.
	Tiers map[string]map[string]api.Usage
	// Attempts sums the records' attempts: requests sent for recorded rows.
	Attempts int64
	// Records counts journal lines.
	Records int64
	// Reasks and Reused count the records of re-asks (Record.Reask > 0)
	// and of reused answers (Record.Reused), with their usage per model
	// (see Extra).
	Reasks, Reused Extra
	latency        Histogram
}

// NewTotals returns empty totals.
func NewTotals() *Totals {
	return &Totals{seed: maphash.MakeSeed(), Usage: make(map[string]api.Usage)}
}

func (t *Totals) hash(key string) uint64 { return maphash.String(t.seed, key) }

// KeepRequests makes the Adds that follow keep each record's request tag
// (for a resume's scan of the journal). With on false, later Adds keep
// none: a key they add or update has tag 0, unknown (records of another
// job, or of the running job, whose rows are not read again).
func (t *Totals) KeepRequests(on bool) {
	t.keepReq = on
	t.state.withReq = on
}

// RequestTag returns a 4-byte tag of a hex SHA-256 (a record's
// request_sha256): its first 8 hex digits, never 0; 0 when sha is not hex.
func RequestTag(sha string) uint32 {
	if len(sha) < 8 {
		return 0
	}
	v, err := strconv.ParseUint(sha[:8], 16, 32)
	if err != nil {
		return 0
	}
	if v == 0 {
		v = 1
	}
	return uint32(v)
}

// Add accounts for one record.
func (t *Totals) Add(rec *Record) {
	st := StatusOf(rec.Error)
	var rt uint32
	if t.keepReq {
		rt = RequestTag(rec.RequestSHA256)
	}
	if old := t.put(rec.CustomID, st, rt); old != Pending {
		t.counts[old]--
	}
	t.counts[st]++
	u := t.Usage[rec.Model]
	u.Add(rec.Usage)
	t.Usage[rec.Model] = u
	if rec.Tier != "" {
		t.Tiers = addTier(t.Tiers, rec.Tier, rec.Model, rec.Usage)
	}
	t.Attempts += int64(rec.Attempts)
	t.Records++
	if rec.Reask > 0 {
		t.Reasks.add(rec.Model, rec.Usage)
	}
	if rec.Reused != nil {
		t.Reused.add(rec.Model, rec.Reused.Usage)
	}
	if rec.LatencyMS > 0 {
		t.latency.Add(rec.LatencyMS)
	}
}

// maxDense bounds the numbers kept densely (4 MiB of states at most);
// larger numbers are hashed like other keys.
const maxDense = 1 << 24

// denseIndex returns the number key writes in canonical decimal form, if
// it is below maxDense.
func denseIndex(key string) (int64, bool) {
	if len(key) == 0 || len(key) > 8 || (key[0] == '0' && len(key) > 1) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n < maxDense
}

// put sets key's state (and request tag rt) and returns its old state.
func (t *Totals) put(key string, st Status, rt uint32) Status {
	index, ok := denseIndex(key)
	if !ok {
		return t.state.put(t.hash(key), st, rt)
	}
	i, shift := index/4, uint(index%4)*2
	if i >= int64(len(t.dense)) {
		t.dense = append(t.dense, make([]uint8, i+1-int64(len(t.dense)))...)
		t.dense = t.dense[:cap(t.dense)]
	}
	if t.keepReq || t.denseReq != nil {
		if index >= int64(len(t.denseReq)) {
			t.denseReq = append(t.denseReq, make([]uint32, index+1-int64(len(t.denseReq)))...)
			t.denseReq = t.denseReq[:cap(t.denseReq)]
		}
		t.denseReq[index] = rt
	}
	old := Status(t.dense[i] >> shift & 3)
	t.dense[i] = t.dense[i]&^(3<<shift) | uint8(st)<<shift
	if old == Pending {
		t.ndense++
	}
	return old
}

// Status returns the latest state of key.
func (t *Totals) Status(key string) Status {
	index, ok := denseIndex(key)
	if !ok {
		return t.state.get(t.hash(key))
	}
	if i := index / 4; i < int64(len(t.dense)) {
		return Status(t.dense[i] >> (uint(index%4) * 2) & 3)
	}
	return Pending
}

// RequestTag returns the request tag kept for key (see KeepRequests), or
// 0 if none was.
func (t *Totals) RequestTag(key string) uint32 {
	index, ok := denseIndex(key)
	if !ok {
		_, rt := t.state.getReq(t.hash(key))
		return rt
	}
	if index < int64(len(t.denseReq)) {
		return t.denseReq[index]
	}
	return 0
}

// Count returns how many keys are in state s (s != Pending).
func (t *Totals) Count(s Status) int64 { return t.counts[s] }

// Keys returns how many distinct keys have records.
func (t *Totals) Keys() int64 { return int64(t.state.len() + t.ndense) }

// TotalUsage sums Usage over models.
func (t *Totals) TotalUsage() api.Usage {
	var u api.Usage
	for _, m := range t.Usage {
		u.Add(m)
	}
	return u
}

// Latency returns the latency quantile q (0..1) in milliseconds over the
// records with a latency, or 0 if there are none.
func (t *Totals) Latency(q float64) int64 { return t.latency.Quantile(q) }

// Histogram is a fixed-memory latency histogram in milliseconds with
// buckets about 4% wide. The zero value is empty and ready.
type Histogram struct {
	buckets map[int]int64
	n       int64
}

const histBase = 1.04

// Add records one value.
func (h *Histogram) Add(ms int64) {
	if h.buckets == nil {
		h.buckets = make(map[int]int64)
	}
	h.buckets[bucketOf(ms)]++
	h.n++
}

func bucketOf(ms int64) int {
	if ms <= 1 {
		return 0
	}
	return int(math.Ceil(math.Log(float64(ms)) / math.Log(histBase)))
}

// Quantile returns the upper bound of the bucket holding quantile q.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	keys := make([]int, 0, len(h.buckets))
	for k := range h.buckets {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	rank := int64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for _, k := range keys {
		seen += h.buckets[k]
		if seen >= rank {
			return int64(math.Round(math.Pow(histBase, float64(k))))
		}
	}
	return int64(math.Round(math.Pow(histBase, float64(keys[len(keys)-1]))))
}

// addTier adds u to tiers[tier][model], making the maps as needed.
func addTier(tiers map[string]map[string]api.Usage, tier, model string, u api.Usage) map[string]map[string]api.Usage {
	if tiers == nil {
		tiers = map[string]map[string]api.Usage{}
	}
	m := tiers[tier]
	if m == nil {
		m = map[string]api.Usage{}
		tiers[tier] = m
	}
	v := m[model]
	v.Add(u)
	m[model] = v
	return tiers
}

// cloneTiers copies tiers.
func cloneTiers(tiers map[string]map[string]api.Usage) map[string]map[string]api.Usage {
	if len(tiers) == 0 {
		return nil
	}
	c := make(map[string]map[string]api.Usage, len(tiers))
	for t, m := range tiers {
		c[t] = maps.Clone(m)
	}
	return c
}
