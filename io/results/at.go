package results

import (
	"fmt"
	"io"
)

// ReadEachAt is ReadEach over one journal whose fn also gets where each
// record's line is in the file: its byte offset and length (without the
// newline), for ReadRecordAt.
func ReadEachAt(path string, want Fields, fn func(rec *Record, off int64, n int) error) (ReadInfo, error) {
	var info ReadInfo
	var off int64
	ls := lineScanner{want: want&fieldMask | fieldMeta}
	var rec Record
	n, torn, err := eachLine(path, func(line int64, b []byte) error {
		at := off
		off += int64(len(b)) + 1
		rec = Record{}
		if ls.decode(b, &rec) != nil {
			rec = Record{}
			err := decodeRead(b, &rec, want)
			if err == errMark {
				return nil
			}
			if err != nil {
				return &CorruptError{Path: path, Line: line, Err: err}
			}
		}
		return fn(&rec, at, len(b))
	})
	info.Lines = n
	if torn > 0 {
		info.Torn = append(info.Torn, fmt.Sprintf("%s: %d bytes", path, torn))
	}
	return info, err
}

// ReadRecordAt decodes the whole record whose line is n bytes at off in
// r (as ReadEachAt located it).
func ReadRecordAt(r io.ReaderAt, off int64, n int) (*Record, error) {
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, err
	}
	var rec Record
	if err := decodeRead(b, &rec, AllFields); err != nil {
		return nil, err
	}
	return &rec, nil
}
