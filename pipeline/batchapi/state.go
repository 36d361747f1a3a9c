package batchapi

import (
	"encoding/json"

	"github.com/llmbatch/llmbatch/io/results"
)

// Kinds of the marks the mode journals (see the package doc).
const (
	KindFile  = "batch_file" // an input file uploaded: its id and the keys it holds
	KindBatch = "batch"      // a batch created from a file: its id
	// KindCreate is written before a batch is asked for (the file's id):
	// a resume that finds it without a batch mark looks the batch up
	// before creating one.
	KindCreate = "batch_create"
	KindState  = "batch_state" // a batch's object as last read: its status and counts
)

// FileData is a KindFile mark's data.
type FileData struct {
	Endpoint string   `json:"endpoint"` // the batch endpoint: "/v1/responses"
	Model    string   `json:"model"`
	Lines    int      `json:"lines"`
	Bytes    int64    `json:"bytes"`
	Keys     []string `json:"keys"` // the rows' keys, in the file's line order
}

// BatchData is a KindBatch mark's data.
type BatchData struct {
	InputFileID string `json:"input_file_id"`
	Endpoint    string `json:"endpoint"`
}

// File is an uploaded input file as the journal knows it.
type File struct {
	ID string
	FileData
	// Batch is the batch created from the file, nil if none was.
	Batch *BatchInfo
	// Owned counts the file's keys that have no record journalled since
	// the file was: rows its batch still has to answer.
	Owned int
	// Creating is set when a batch was asked for (a KindCreate mark);
	// Time is when the file was journalled, Unix seconds (0: unknown).
	Creating bool
	Time     int64
}

// BatchInfo is a batch as the journal knows it.
type BatchInfo struct {
	ID   string
	File *File
	// Last is the batch's object as last journalled (a KindState mark),
	// nil before it was.
	Last *Batch
}

// Done reports whether the batch reached a final state and was collected.
func (b *BatchInfo) Done() bool { return b.Last != nil && Terminal(b.Last.Status) }

// State is what a journal says of its batches, built from its lines in
// order (Add): the files uploaded, the batches created, and which rows
// each still holds. A row belongs to the latest file whose mark names it
// until a record of it is journalled after that mark; a failed batch
// (validation) gives its rows back. It is not safe for concurrent use.
type State struct {
	Files   []*File      // in journal order
	Batches []*BatchInfo // in journal order
	files   map[string]*File
	batches map[string]*BatchInfo
	owner   map[string]*File
}

// NewState returns an empty State.
func NewState() *State {
	return &State{files: map[string]*File{}, batches: map[string]*BatchInfo{}, owner: map[string]*File{}}
}

// Add takes one journal line: rec, a row's record, or m, a mark.
func (s *State) Add(rec *results.Record, m *results.Mark) {
	if rec != nil {
		s.release(rec.CustomID)
		return
	}
	if m == nil {
		return
	}
	switch m.Kind {
	case KindFile:
		var d FileData
		if json.Unmarshal(m.Data, &d) != nil || m.ID == "" {
			return
		}
		f := &File{ID: m.ID, FileData: d}
		if !m.Time.IsZero() {
			f.Time = m.Time.Unix()
		}
		s.Files = append(s.Files, f)
		s.files[f.ID] = f
		for _, k := range d.Keys {
			s.release(k)
			s.owner[k] = f
			f.Owned++
		}
	case KindBatch:
		var d BatchData
		if json.Unmarshal(m.Data, &d) != nil || m.ID == "" {
			return
		}
		f := s.files[d.InputFileID]
		if f == nil || s.batches[m.ID] != nil {
			return
		}
		b := &BatchInfo{ID: m.ID, File: f}
		f.Batch = b
		s.Batches = append(s.Batches, b)
		s.batches[b.ID] = b
	case KindCreate:
		if f := s.files[m.ID]; f != nil {
			f.Creating = true
		}
	case KindState:
		var o Batch
		b := s.batches[m.ID]
		if b == nil || json.Unmarshal(m.Data, &o) != nil {
			return
		}
		b.Last = &o
		if o.Status == StatusFailed {
			// Validation failed: nothing ran, the rows are pending again.
			for _, k := range b.File.Keys {
				if s.owner[k] == b.File {
					s.release(k)
				}
			}
		}
	}
}

// release ends key's ownership by a file, if any.
func (s *State) release(key string) {
	if f := s.owner[key]; f != nil {
		f.Owned--
		delete(s.owner, key)
	}
}

// Owner returns the file whose batch still holds key, or nil.
func (s *State) Owner(key string) *File { return s.owner[key] }

// Batch returns the batch with id, or nil.
func (s *State) Batch(id string) *BatchInfo { return s.batches[id] }

// Active returns the files whose rows are still held: the batches to poll
// and collect (or, for a file without one, to create).
func (s *State) Active() []*File {
	var out []*File
	for _, f := range s.Files {
		if f.Owned > 0 {
			out = append(out, f)
		}
	}
	return out
}
