package simulator

import (
	"fmt"
	"time"
)

// Op is the kind of request a scripted fault applies to.
type Op string

const (
	OpSubmit Op = "submit" // POST .../publications
	OpPoll   Op = "poll"   // GET .../publications/{id}
)

// FaultKind names a scripted fault.
type FaultKind string

const (
	// FaultLatency waits Delay, then answers normally.
	FaultLatency FaultKind = "latency"
	// FaultHang never answers: the request is held until the client gives up (or the server
	// closes), like an API that accepted the connection and stalled.
	FaultHang FaultKind = "hang"
	// FaultStatus answers Status (e.g. 500, 503, 400) with a JSON error body carrying Message.
	FaultStatus FaultKind = "status"
	// FaultRateLimit answers 429 with the header Retry-After: RetryAfter (seconds or an HTTP-date).
	FaultRateLimit FaultKind = "rate_limit"
	// FaultReset drops the TCP connection with a RST before answering.
	FaultReset FaultKind = "reset"
	// FaultHugeBody answers 200 with a JSON-looking body of Size bytes (default 10 MB), chunked.
	FaultHugeBody FaultKind = "huge_body"
	// FaultRedirect answers 302 to Location.
	FaultRedirect FaultKind = "redirect"
	// FaultLoseResponse processes the request (a submit creates the post) and then closes the
	// connection without answering: the client must retry with the same key.
	FaultLoseResponse FaultKind = "lose_response"
	// FaultFailPublication (submit only) accepts the submit, but the publication ends FAILED at
	// 40% with Message and the Retryable flag in its error.
	FaultFailPublication FaultKind = "fail_publication"
)

// DefaultHugeBodySize is the body size of FaultHugeBody when Size is 0.
const DefaultHugeBodySize = 10 << 20

// Fault is one scripted misbehaviour for the next matching request of a channel. Build them
// with the helpers (Latency, Hang, Status, ...); On defaults to OpSubmit.
type Fault struct {
	Kind       FaultKind     `json:"kind"`
	On         Op            `json:"on,omitempty"`
	Delay      time.Duration `json:"-"`                    // FaultLatency
	Status     int           `json:"status,omitempty"`     // FaultStatus
	Message    string        `json:"message,omitempty"`    // FaultStatus, FaultFailPublication
	RetryAfter string        `json:"retryAfter,omitempty"` // FaultRateLimit: raw header value
	Size       int           `json:"size,omitempty"`       // FaultHugeBody
	Location   string        `json:"location,omitempty"`   // FaultRedirect
	Retryable  bool          `json:"retryable,omitempty"`  // FaultFailPublication, FaultStatus body flag
}

// Latency delays the answer by d.
func Latency(d time.Duration) Fault { return Fault{Kind: FaultLatency, On: OpSubmit, Delay: d} }

// Hang never answers.
func Hang() Fault { return Fault{Kind: FaultHang, On: OpSubmit} }

// Status answers an HTTP error status with message in the JSON error body.
func Status(code int, message string) Fault {
	return Fault{Kind: FaultStatus, On: OpSubmit, Status: code, Message: message}
}

// Reject is a permanent rejection: 400 with message (e.g. "image rejected").
func Reject(message string) Fault { return Status(400, message) }

// RateLimit answers 429 with Retry-After: retryAfter ("7", or an HTTP-date; "" = no header).
func RateLimit(retryAfter string) Fault {
	return Fault{Kind: FaultRateLimit, On: OpSubmit, RetryAfter: retryAfter}
}

// Reset drops the connection with a TCP RST.
func Reset() Fault { return Fault{Kind: FaultReset, On: OpSubmit} }

// HugeBody answers with a body of size bytes (0 = 10 MB).
func HugeBody(size int) Fault { return Fault{Kind: FaultHugeBody, On: OpSubmit, Size: size} }

// Redirect answers 302 to location.
func Redirect(location string) Fault {
	return Fault{Kind: FaultRedirect, On: OpSubmit, Location: location}
}

// LoseResponse processes the request, then closes the connection without an answer.
func LoseResponse() Fault { return Fault{Kind: FaultLoseResponse, On: OpSubmit} }

// FailPublication makes the next submitted publication end FAILED with message.
func FailPublication(message string, retryable bool) Fault {
	return Fault{Kind: FaultFailPublication, On: OpSubmit, Message: message, Retryable: retryable}
}

// OnPoll returns f applied to status polls instead of submits.
func (f Fault) OnPoll() Fault { f.On = OpPoll; return f }

func (f Fault) validate() error {
	switch f.On {
	case OpSubmit, OpPoll:
	default:
		return fmt.Errorf("fault %q: on must be submit or poll, got %q", f.Kind, f.On)
	}
	switch f.Kind {
	case FaultLatency:
		if f.Delay < 0 {
			return fmt.Errorf("fault latency: delay must not be negative")
		}
	case FaultHang, FaultReset, FaultLoseResponse, FaultRateLimit:
	case FaultStatus:
		if f.Status < 400 || f.Status > 599 {
			return fmt.Errorf("fault status: status must be 400-599, got %d", f.Status)
		}
	case FaultHugeBody:
		if f.Size < 0 {
			return fmt.Errorf("fault huge_body: size must not be negative")
		}
	case FaultRedirect:
		if f.Location == "" {
			return fmt.Errorf("fault redirect: location is required")
		}
	case FaultFailPublication:
		if f.On != OpSubmit {
			return fmt.Errorf("fault fail_publication applies to submits only")
		}
	default:
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	return nil
}
