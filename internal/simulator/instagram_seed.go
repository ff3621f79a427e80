package simulator

import (
	"fmt"
	"strconv"
	"time"
)

// SeedInstagramPosts adds media published at the given times to igUserID, oldest first (tests of
// the content publishing limit: 50 posts in the last 24 hours use the quota up).
func (s *Server) SeedInstagramPosts(igUserID string, at ...time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range at {
		s.seq++
		m := &igMedia{id: fmt.Sprintf("1791%013d", s.seq), user: igUserID, caption: "seeded", created: t}
		m.permalink = "https://www.instagram.com/p/SIM" + strconv.FormatUint(s.seq, 36) + "/"
		s.ig.media[m.id] = m
		s.ig.byUser[igUserID] = append(s.ig.byUser[igUserID], m)
	}
}
