package apitest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// recordingFilesPath is where the fake signed links point: the same
// server, another path, which takes no API key.
const recordingFilesPath = "/files/"

// RecordingKind is what GET /v2/calls/{id}/recording does for a call.
type RecordingKind int

// The kinds of recordings. A call that was not set with SetRecording gets
// one from its id: most have audio, one in ten none, one in twenty is
// still processing at the first ask, and one in ten gets a first link that
// has already expired (403).
const (
	RecordingAudio      RecordingKind = iota // a 302 to a WAV file
	RecordingNone                            // 404 with the API's error body
	RecordingProcessing                      // 202 with Retry-After at the first ask, audio after
	RecordingGone                            // 410: deleted upstream
	RecordingExpiring                        // the first link answers 403, the next ones audio
	RecordingCorrupt                         // the link announces a SHA-256 the bytes do not have
	RecordingStall                           // the link sends half the bytes, then hangs until the client leaves
)

// Recording sets what the recording endpoint serves for one call.
type Recording struct {
	Kind RecordingKind
	// Size is the WAV file's size in bytes, header included; 0 picks a
	// few seconds' worth from the call id. Large sizes are generated as
	// they are sent, never held in memory.
	Size int64
}

// recordings is the server's recording state.
type recordings struct {
	mu      sync.Mutex
	set     map[string]Recording
	asked   map[string]int    // call id → links asked for
	tokens  map[string]string // token → call id
	expired map[string]bool   // tokens that answer 403
	keyed   int               // file requests that carried an Authorization header
	stalls  chan string
}

func (r *recordings) init() {
	if r.set == nil {
		r.set, r.asked, r.tokens, r.expired = map[string]Recording{}, map[string]int{}, map[string]string{}, map[string]bool{}
		r.stalls = make(chan string, 64)
	}
}

// SetRecording sets what the recording endpoint serves for callID.
func (s *Server) SetRecording(callID string, rec Recording) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.init()
	s.rec.set[callID] = rec
}

// RecordingStalls receives the id of each call whose link, set to
// RecordingStall, has sent half its bytes and now hangs.
func (s *Server) RecordingStalls() <-chan string {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.init()
	return s.rec.stalls
}

// RecordingLinksAsked returns how many times the recording endpoint was
// asked for callID's link.
func (s *Server) RecordingLinksAsked(callID string) int {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.asked[callID]
}

// RecordingKeyLeaks returns how many requests to signed links carried an
// Authorization header: a client must never send the API key there.
func (s *Server) RecordingKeyLeaks() int {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.keyed
}

// recordingOf returns the recording of a call: as set, or derived from its id.
func (s *Server) recordingOf(id string) Recording {
	if rec, ok := s.rec.set[id]; ok {
		return rec
	}
	switch h := fnv(id) % 20; {
	case h < 2:
		return Recording{Kind: RecordingNone}
	case h < 3:
		return Recording{Kind: RecordingProcessing}
	case h < 5:
		return Recording{Kind: RecordingExpiring}
	}
	return Recording{Kind: RecordingAudio}
}

// recordingLink answers GET /v2/calls/{id}/recording.
func (s *Server) recordingLink(x *exchange) {
	if _, ok := s.data.get(x.id); !ok {
		x.reply(http.StatusNotFound, nil, detailBody("Call not found", x.n))
		return
	}
	s.rec.mu.Lock()
	s.rec.init()
	rec := s.recordingOf(x.id)
	s.rec.asked[x.id]++
	asked := s.rec.asked[x.id]
	s.rec.mu.Unlock()
	switch {
	case rec.Kind == RecordingNone:
		x.reply(http.StatusNotFound, nil, detailBody("Recording not found", x.n))
		return
	case rec.Kind == RecordingGone:
		x.reply(http.StatusGone, nil, detailBody("Recording deleted", x.n))
		return
	case rec.Kind == RecordingProcessing && asked == 1:
		x.reply(http.StatusAccepted, http.Header{"Retry-After": {"60"}}, detailBody("Recording is processing", x.n))
		return
	}
	token := fmt.Sprintf("%x", sha256.Sum256(fmt.Appendf(nil, "%d|%s|%d", s.seed, x.id, asked)))[:32]
	s.rec.mu.Lock()
	s.rec.tokens[token] = x.id
	if rec.Kind == RecordingExpiring && asked == 1 {
		s.rec.expired[token] = true
	}
	s.rec.mu.Unlock()
	host := x.r.Host
	link := fmt.Sprintf("http://%s%s%s.wav?X-Expires=%d&X-Signature=%s", host, recordingFilesPath, token,
		time.Now().Add(24*time.Hour).Unix(), token[:16])
	x.reply(http.StatusFound, http.Header{"Location": {link}}, nil)
}

// recordingFile serves a signed link: a WAV file generated from the call id.
func (s *Server) recordingFile(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, recordingFilesPath), ".wav")
	s.rec.mu.Lock()
	s.rec.init()
	if r.Header.Get("Authorization") != "" {
		s.rec.keyed++
	}
	id, ok := s.rec.tokens[token]
	expired := s.rec.expired[token]
	rec := s.recordingOf(id)
	stalls := s.rec.stalls
	s.rec.mu.Unlock()
	switch {
	case !ok || r.URL.Query().Get("X-Signature") != token[:min(16, len(token))]:
		http.Error(w, "<Error><Code>SignatureDoesNotMatch</Code></Error>", http.StatusForbidden)
		return
	case expired:
		http.Error(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", http.StatusForbidden)
		return
	}
	wav := newWAV(id, rec.Size)
	h := w.Header()
	h.Set("Content-Type", "audio/wav")
	h.Set("Content-Length", strconv.FormatInt(wav.size, 10))
	if wav.size <= 16<<20 {
		sum := sha256.New()
		_, _ = io.Copy(sum, wav.reader(wav.size))
		b := sum.Sum(nil)
		if rec.Kind == RecordingCorrupt {
			b[0] ^= 0xff
		}
		h.Set("X-Amz-Checksum-Sha256", base64.StdEncoding.EncodeToString(b))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if rec.Kind == RecordingStall {
		_, _ = io.Copy(w, wav.reader(wav.size/2))
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case stalls <- id:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		panic(http.ErrAbortHandler)
	}
	_, _ = io.Copy(w, wav.reader(wav.size))
}

// wav is a generated mono 8 kHz 16-bit WAV file: a tone whose pitch comes
// from the call id.
type wav struct {
	size int64
	freq float64
}

const wavHeader = 44

func newWAV(id string, size int64) wav {
	if size <= 0 {
		size = wavHeader + int64(2+fnv(id)%4)*16000 // 2 to 5 seconds
	}
	size = max(size, wavHeader) &^ 1
	return wav{size: size, freq: 200 + float64(fnv(id)%600)}
}

// reader returns the first n bytes of the file.
func (w wav) reader(n int64) io.Reader {
	return io.LimitReader(&wavReader{w: w}, n)
}

type wavReader struct {
	w   wav
	off int64
}

func (r *wavReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.off < r.w.size {
		if r.off < wavHeader {
			h := r.w.header()
			c := copy(p[n:], h[r.off:])
			n += c
			r.off += int64(c)
			continue
		}
		if len(p)-n < 2 {
			break
		}
		i := (r.off - wavHeader) / 2
		v := int16(8000 * math.Sin(2*math.Pi*r.w.freq*float64(i)/8000))
		binary.LittleEndian.PutUint16(p[n:], uint16(v))
		n += 2
		r.off += 2
	}
	if n == 0 && r.off >= r.w.size {
		return 0, io.EOF
	}
	return n, nil
}

func (w wav) header() []byte {
	h := make([]byte, wavHeader)
	data := uint32(w.size - wavHeader)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+data)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)    // PCM
	binary.LittleEndian.PutUint16(h[22:], 1)    // mono
	binary.LittleEndian.PutUint32(h[24:], 8000) // sample rate
	binary.LittleEndian.PutUint32(h[28:], 16000)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], data)
	return h
}
