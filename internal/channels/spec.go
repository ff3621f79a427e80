package channels

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/marketing-platform/distribution/internal/model"
)

// Fields says which result fields a channel returns on SUCCESS; all of them are required.
type Fields struct {
	DistributionID     bool
	PostID             bool
	PostURL            bool
	MessageID          bool
	EstimatedViews     bool
	ImpressionSchedule bool
}

// channelFields is the per-channel contract (DESIGN.md "The six channels"). A SUCCESS missing
// one of its fields is a Permanent "incomplete result"; fields a channel does not list are
// ignored even if the API sends them.
var channelFields = map[model.Channel]Fields{
	model.ChannelUridongneTV: {DistributionID: true, EstimatedViews: true, ImpressionSchedule: true},
	model.ChannelRingoBiz:    {DistributionID: true, EstimatedViews: true},
	model.ChannelGiniTV:      {DistributionID: true, EstimatedViews: true, ImpressionSchedule: true},
	model.ChannelInstagram:   {PostID: true, PostURL: true, EstimatedViews: true},
	model.ChannelNaver:       {PostID: true, PostURL: true, EstimatedViews: true},
	model.ChannelKakao:       {MessageID: true, EstimatedViews: true},
}

// FieldsOf returns the result fields a channel returns.
func FieldsOf(ch model.Channel) Fields { return channelFields[ch] }

// Column limits of channel_status (DESIGN.md "Data").
const (
	maxIDLen       = 100
	maxPostURLLen  = 500
	maxSlots       = 100
	maxSlotNameLen = 50
)

// wireResult is the protocol's result object.
type wireResult struct {
	DistributionID     string                 `json:"distributionId"`
	PostID             string                 `json:"postId"`
	PostURL            string                 `json:"postUrl"`
	MessageID          string                 `json:"messageId"`
	EstimatedViews     *int64                 `json:"estimatedViews"`
	ImpressionSchedule []model.ImpressionSlot `json:"impressionSchedule"`
}

// toResult maps a SUCCESS result into a Result according to the channel's Fields.
func toResult(ch model.Channel, w *wireResult) (Result, *Error) {
	f, ok := channelFields[ch]
	if !ok {
		return Result{}, permanent(0, "the channel is not supported", string(ch))
	}
	if w == nil {
		return Result{}, incomplete("result")
	}
	var r Result
	if f.DistributionID {
		if w.DistributionID == "" {
			return Result{}, incomplete("distributionId")
		}
		if err := checkID("distributionId", w.DistributionID); err != nil {
			return Result{}, err
		}
		r.DistributionID = w.DistributionID
	}
	if f.PostID {
		if w.PostID == "" {
			return Result{}, incomplete("postId")
		}
		if err := checkID("postId", w.PostID); err != nil {
			return Result{}, err
		}
		r.PostID = w.PostID
	}
	if f.MessageID {
		if w.MessageID == "" {
			return Result{}, incomplete("messageId")
		}
		if err := checkID("messageId", w.MessageID); err != nil {
			return Result{}, err
		}
		r.MessageID = w.MessageID
	}
	if f.PostURL {
		if w.PostURL == "" {
			return Result{}, incomplete("postUrl")
		}
		// Post URLs are shown as links: only absolute https URLs are accepted (RELIABILITY.md).
		u, err := url.Parse(w.PostURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(w.PostURL) > maxPostURLLen {
			return Result{}, invalid("postUrl is not an https URL of at most 500 characters")
		}
		r.PostURL = w.PostURL
	}
	if f.EstimatedViews {
		if w.EstimatedViews == nil {
			return Result{}, incomplete("estimatedViews")
		}
		if v := *w.EstimatedViews; v < 0 || v > math.MaxInt32 {
			return Result{}, invalid(fmt.Sprintf("estimatedViews %d is out of range", v))
		}
		r.EstimatedViews = int(*w.EstimatedViews)
	}
	if f.ImpressionSchedule {
		if len(w.ImpressionSchedule) == 0 {
			return Result{}, incomplete("impressionSchedule")
		}
		if len(w.ImpressionSchedule) > maxSlots {
			return Result{}, invalid("impressionSchedule has too many slots")
		}
		for i, s := range w.ImpressionSchedule {
			start, err1 := time.Parse(time.RFC3339, s.Start)
			end, err2 := time.Parse(time.RFC3339, s.End)
			if err1 != nil || err2 != nil || !end.After(start) || s.Slot == "" || len(s.Slot) > maxSlotNameLen || !printable(s.Slot) || s.Spots < 0 {
				return Result{}, invalid(fmt.Sprintf("impressionSchedule[%d] is not a valid slot", i))
			}
		}
		r.ImpressionSchedule = w.ImpressionSchedule
	}
	return r, nil
}

func checkID(name, v string) *Error {
	if len(v) > maxIDLen || !printable(v) {
		return invalid(name + " is longer than 100 characters or not printable")
	}
	return nil
}

// printable: valid UTF-8 (invalid bytes would read as U+FFFD, which IsPrint accepts) without
// control, format or unassigned characters: no CR or LF can reach a page or a stream.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

func incomplete(field string) *Error {
	return permanent(0, "the channel returned an incomplete result", "missing "+field)
}

func invalid(detail string) *Error {
	return permanent(0, "the channel returned an invalid result", detail)
}
