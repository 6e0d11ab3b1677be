package api

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Errors of Downloader.Open, matched with errors.Is.
var (
	// ErrLinkExpired: the signed link answered 401, 403 or 410: it expired
	// or was revoked. Ask the API for a fresh one.
	ErrLinkExpired = errors.New("api: the recording link expired")
	// ErrPrivateAddress: the link leads to a loopback, private, link-local
	// or otherwise internal address, and the Downloader does not allow it.
	ErrPrivateAddress = errors.New("api: the recording link leads to a private address")
)

// DownloadOptions configures a Downloader.
type DownloadOptions struct {
	// AllowPrivate lets links lead to loopback and private addresses (tests,
	// a private object store), and to plain http.
	AllowPrivate bool
	// HeaderTimeout bounds the wait for the answer's headers; zero means 30 s.
	// The body takes as long as ctx allows.
	HeaderTimeout time.Duration
	// UserAgent is sent with every request. Empty means "callsync".
	UserAgent string
}

// Downloader fetches recordings from signed links. It never sends the API
// key (a signed link needs none, and its host is not Synthflow's), uses no
// proxy, and checks every address it dials, after name resolution, so that
// a link cannot reach an internal service through a name that resolves to
// one. It is safe for concurrent use.
type Downloader struct {
	http         *http.Client
	agent        string
	allowPrivate bool
}

// Download is an open recording: read Body to its end, then close it.
type Download struct {
	Body io.ReadCloser
	// Size is the announced length, -1 when unknown.
	Size int64
	// ContentType is as served, "" when none.
	ContentType string
	// SHA256 and MD5 are the checksums the server announced
	// (x-amz-checksum-sha256, Content-MD5, x-goog-hash md5), nil when none.
	SHA256, MD5 []byte
}

// NewDownloader returns a Downloader for opts.
func NewDownloader(opts DownloadOptions) *Downloader {
	timeout := opts.HeaderTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: dialControl(opts.AllowPrivate)}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would be dialed instead of the link's host
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
	}
	agent := opts.UserAgent
	if agent == "" {
		agent = "callsync"
	}
	allow := opts.AllowPrivate
	return &Downloader{agent: agent, allowPrivate: allow, http: &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("more than 3 redirects")
		}
		if req.URL.Scheme != "https" && !allow {
			return fmt.Errorf("redirect to %s, not https", req.URL.Scheme)
		}
		req.Header.Del("Authorization") // never set; kept out whatever a caller adds
		return nil
	}}}
}

// Open opens the recording at link. Errors never hold link's query (its
// signature). It returns an error matching ErrLinkExpired for 401, 403 and
// 410, ErrPrivateAddress when the link leads where it may not, a
// *StatusError for other non-2xx answers, and a *TransportError when no
// answer came.
func (d *Downloader) Open(ctx context.Context, link *url.URL) (*Download, error) {
	op := "download recording from " + link.Host
	if link.Scheme != "https" && !d.allowPrivate {
		return nil, fmt.Errorf("%s: %w: %s, not https", op, ErrPrivateAddress, link.Scheme)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: bad link", op)
	}
	req.Header.Set("User-Agent", d.agent)
	resp, err := d.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrPrivateAddress) {
			return nil, fmt.Errorf("%s: %w", op, ErrPrivateAddress)
		}
		return nil, &TransportError{Op: op, Err: stripURL(err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		se := &StatusError{Op: op, Code: resp.StatusCode, Message: oneLine(nil, string(body), 200)} // the key never reaches this host: nothing to redact
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusGone:
			return nil, fmt.Errorf("%w: %w", ErrLinkExpired, se)
		}
		return nil, se
	}
	dl := &Download{Body: resp.Body, Size: resp.ContentLength, ContentType: resp.Header.Get("Content-Type")}
	dl.SHA256 = decodeB64(resp.Header.Get("X-Amz-Checksum-Sha256"))
	dl.MD5 = decodeB64(resp.Header.Get("Content-Md5"))
	for _, h := range resp.Header.Values("X-Goog-Hash") {
		for part := range strings.SplitSeq(h, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "md5="); ok {
				dl.MD5 = decodeB64(v)
			}
		}
	}
	return dl, nil
}

// decodeB64 decodes a base64 checksum header, or a hex one; nil when empty
// or neither.
func decodeB64(v string) []byte {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if b, err := base64.StdEncoding.DecodeString(v); err == nil {
		return b
	}
	if b, err := hex.DecodeString(v); err == nil {
		return b
	}
	return nil
}

// dialControl refuses, unless allow, connections to addresses that are not
// public unicast: it runs on the address actually dialed, after the name
// was resolved.
func dialControl(allow bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allow {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: unreadable address", ErrPrivateAddress)
		}
		if !PublicAddr(ap.Addr()) {
			return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr())
		}
		return nil
	}
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598), which
// netip does not count as private.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// PublicAddr reports whether a is a public unicast address: not loopback,
// private, link-local, unspecified, multicast or shared (CGNAT), IPv4
// addresses mapped into IPv6 included.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!cgnat.Contains(a) && !(a.Is4() && a.As4()[0] == 0)
}
