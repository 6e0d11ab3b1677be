package sync

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// errRecordingTooLarge ends a download longer than the archiver accepts.
var errRecordingTooLarge = errors.New("recording larger than the limit")

// verifier passes a download through, hashing it, and turns its end into
// an error when the bytes do not match what the server announced: the
// length (Content-Length) and the checksums it sent. The storage then
// sees an error instead of io.EOF and keeps nothing. It keeps the first
// bytes, for the WAV header.
type verifier struct {
	r       io.Reader
	size    int64 // announced, -1 when unknown
	max     int64
	wantSHA []byte
	wantMD5 []byte
	sha     hash.Hash
	md5     hash.Hash // nil when no MD5 was announced
	n       int64
	head    []byte
	err     error // the download's own error, as opposed to the storage's
}

const headBytes = 4096

func newVerifier(r io.Reader, size, max int64, wantSHA, wantMD5 []byte) *verifier {
	v := &verifier{r: r, size: size, max: max, wantSHA: wantSHA, wantMD5: wantMD5, sha: sha256.New()}
	if len(wantMD5) > 0 {
		v.md5 = md5.New()
	}
	return v
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	if n > 0 {
		v.sha.Write(p[:n])
		if v.md5 != nil {
			v.md5.Write(p[:n])
		}
		if len(v.head) < headBytes {
			v.head = append(v.head, p[:min(n, headBytes-len(v.head))]...)
		}
		v.n += int64(n)
		if v.n > v.max {
			v.err = fmt.Errorf("%w (%d bytes)", errRecordingTooLarge, v.max)
			return 0, v.err
		}
	}
	switch {
	case err == io.EOF:
		if cerr := v.check(); cerr != nil {
			v.err = cerr
			return n, cerr
		}
		return n, io.EOF
	case err != nil:
		v.err = fmt.Errorf("read recording: %w", err)
		return n, v.err
	}
	return n, nil
}

// check compares what was read with what was announced.
func (v *verifier) check() error {
	if v.size >= 0 && v.n != v.size {
		return fmt.Errorf("recording size mismatch: Content-Length %d, got %d bytes", v.size, v.n)
	}
	if len(v.wantSHA) > 0 && !bytes.Equal(v.sha.Sum(nil), v.wantSHA) {
		return errors.New("recording checksum mismatch: SHA-256 differs from the one announced")
	}
	if v.md5 != nil && !bytes.Equal(v.md5.Sum(nil), v.wantMD5) {
		return errors.New("recording checksum mismatch: MD5 differs from the one announced")
	}
	return nil
}

// wavSeconds returns the length of a WAV recording from its header (the
// fmt chunk's byte rate, the data chunk's size) and its total size; ok is
// false when head is not a WAV header.
func wavSeconds(head []byte, total int64) (float64, bool) {
	if len(head) < 12 || string(head[0:4]) != "RIFF" || string(head[8:12]) != "WAVE" {
		return 0, false
	}
	var byteRate uint32
	for off := 12; off+8 <= len(head); {
		id, size := string(head[off:off+4]), binary.LittleEndian.Uint32(head[off+4:off+8])
		body := off + 8
		switch id {
		case "fmt ":
			if body+12 > len(head) {
				return 0, false
			}
			byteRate = binary.LittleEndian.Uint32(head[body+8 : body+12])
		case "data":
			if byteRate == 0 {
				return 0, false
			}
			data := int64(size)
			if size == 0 || size == 0xFFFFFFFF || data > total-int64(body) {
				data = total - int64(body) // streamed WAVs leave the size unset
			}
			return float64(data) / float64(byteRate), true
		}
		off = body + int(size) + int(size&1)
	}
	return 0, false
}
