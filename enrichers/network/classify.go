package network

import "net/netip"

// Class is what kind of address an IP is.
type Class uint8

// Address classes. Public is any address not in one of the others.
const (
	Public Class = iota
	Private
	Loopback
	LinkLocal
	Multicast
	Unspecified
	Reserved
)

var classNames = [...]string{
	Public:      "public",
	Private:     "private",
	Loopback:    "loopback",
	LinkLocal:   "link_local",
	Multicast:   "multicast",
	Unspecified: "unspecified",
	Reserved:    "reserved",
}

// String is the value written to vigil.*.ip_class.
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// Local says whether addresses of this class stay inside a site (private,
// loopback, link-local, unspecified, multicast): they have no geography
// and no owner on the internet.
func (c Class) Local() bool {
	return c != Public && c != Reserved
}

// Shared address space (RFC 6598) is not routed on the internet; it is
// counted as private, like RFC 1918 and IPv6 unique local addresses.
var privateV4 = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
}

// Reserved blocks: routable in form but not in use on the internet
// (IANA special-purpose registries). Documentation ranges belong here:
// logs written for examples use them as stand-ins for public addresses,
// so they are looked up in GeoIP like public ones.
var reservedV4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

var reservedV6 = []netip.Prefix{
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("3fff::/20"),
}

// Classify returns the class of an address. IPv4-mapped IPv6 addresses
// are classified as the IPv4 address they carry.
func Classify(a netip.Addr) Class {
	a = a.Unmap()
	switch {
	case !a.IsValid(), a.IsUnspecified():
		return Unspecified
	case a.IsLoopback():
		return Loopback
	case a.IsLinkLocalUnicast():
		return LinkLocal
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return Multicast
	case a.IsPrivate():
		return Private
	}
	if a.Is4() {
		if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return Reserved
		}
		for _, p := range privateV4 {
			if p.Contains(a) {
				return Private
			}
		}
		for _, p := range reservedV4 {
			if p.Contains(a) {
				return Reserved
			}
		}
		return Public
	}
	for _, p := range reservedV6 {
		if p.Contains(a) {
			return Reserved
		}
	}
	return Public
}

// IsPrivate says whether an address is not reachable from the internet:
// RFC 1918, shared (RFC 6598), unique local, loopback, link-local,
// unspecified or multicast. It backs the is_private() rule function.
func IsPrivate(a netip.Addr) bool { return Classify(a).Local() }
