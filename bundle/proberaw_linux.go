package bundle

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/bottleplan/bottleplan/bundle/probewire"
)

// ethPAll is htons(ETH_P_ALL): a packet socket for every protocol.
const ethPAll = 0x0300

// probeRawSocket opens the raw socket kind names and closes it at once;
// nothing is sent. It returns the errno's name when the kernel refuses
// (EPERM without CAP_NET_RAW), and no error when the socket opened.
func probeRawSocket(kind string) (errno string, err error) {
	var fd int
	switch kind {
	case probewire.SocketInetRaw:
		fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
	case probewire.SocketPacket:
		fd, err = syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, ethPAll)
	default:
		return "", fmt.Errorf("unknown socket %q (want %s or %s)", kind, probewire.SocketInetRaw, probewire.SocketPacket)
	}
	if err != nil {
		var en syscall.Errno
		if errors.As(err, &en) {
			return errnoName(en), fmt.Errorf("socket: %w", err)
		}
		return "", fmt.Errorf("socket: %w", err)
	}
	syscall.Close(fd)
	return "", nil
}

// errnoName names the errnos a refused socket can carry.
func errnoName(en syscall.Errno) string {
	switch en {
	case syscall.EPERM:
		return "EPERM"
	case syscall.EACCES:
		return "EACCES"
	case syscall.EAFNOSUPPORT:
		return "EAFNOSUPPORT"
	case syscall.EPROTONOSUPPORT:
		return "EPROTONOSUPPORT"
	case syscall.EINVAL:
		return "EINVAL"
	}
	return fmt.Sprintf("errno %d", int(en))
}
