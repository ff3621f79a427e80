package channels

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// blockedAddrError is returned by the dialer guard when an endpoint resolves to an address the
// service must not connect to (SSRF protection, RELIABILITY.md; ASVS 1.3.6).
type blockedAddrError struct {
	addr   string
	reason string
}

func (e *blockedAddrError) Error() string {
	return fmt.Sprintf("refused to connect to %s (%s address)", e.addr, e.reason)
}

// Special-purpose ranges that IsPrivate/IsLoopback/... do not cover.
var blockedPrefixes = []struct {
	p      netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
}

// nat64 and 6to4 embed an IPv4 address that is checked in turn.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// forbiddenAddr returns why ip must not be dialled, or "" when it may.
func forbiddenAddr(ip netip.Addr, allowLoopback bool) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsLoopback():
		if allowLoopback {
			return ""
		}
		return "loopback"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast"
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return forbiddenAddr(netip.AddrFrom4([4]byte(b[12:16])), false)
		case sixTo4.Contains(ip):
			return forbiddenAddr(netip.AddrFrom4([4]byte(b[2:6])), false)
		}
	}
	for _, bp := range blockedPrefixes {
		if bp.p.Contains(ip) {
			return bp.reason
		}
	}
	return ""
}

// dialGuard returns a net.Dialer Control function that refuses forbidden addresses. It runs
// after DNS resolution, on the exact IP about to be connected, so a name that resolves (or is
// rebound) to a private address cannot slip through.
func dialGuard(allowLoopback bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return &blockedAddrError{addr: address, reason: "unparsable"}
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return &blockedAddrError{addr: address, reason: "unparsable"}
		}
		if reason := forbiddenAddr(ip, allowLoopback); reason != "" {
			return &blockedAddrError{addr: address, reason: reason}
		}
		return nil
	}
}
