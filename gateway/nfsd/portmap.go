package nfsd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"
)

// Portmapper v2 (RFC 1833) procedures and protocol numbers.
const (
	pmapProcSet     = 1
	pmapProcUnset   = 2
	pmapProcGetport = 3
	pmapProcDump    = 4
	ipprotoTCP      = 6
	ipprotoUDP      = 17
	// PortmapPort is the portmapper's well-known port.
	PortmapPort = 111
)

// mapping is one portmapper entry: program, version, protocol, port.
type mapping struct{ prog, vers, prot, port uint32 }

// mappings lists what the server offers at port: NFS v3 and MOUNT v1 to
// v3 over TCP (MOUNT v1 for showmount, which asks for EXPORT in v1).
func mappings(port uint32) []mapping {
	return []mapping{
		{progNFS, 3, ipprotoTCP, port},
		{progMount, 1, ipprotoTCP, port},
		{progMount, 3, ipprotoTCP, port},
	}
}

// lookupPort answers GETPORT: the port of prog/vers/prot, 0 if none.
func lookupPort(maps []mapping, prog, vers, prot uint32) uint32 {
	for _, m := range maps {
		if m.prog == prog && m.vers == vers && m.prot == prot {
			return m.port
		}
	}
	return 0
}

func encodeDump(e *encoder, maps []mapping) {
	for _, m := range maps {
		e.bool(true)
		e.uint32(m.prog)
		e.uint32(m.vers)
		e.uint32(m.prot)
		e.uint32(m.port)
	}
	e.bool(false)
}

// PortmapConfig configures a Portmap.
type PortmapConfig struct {
	// Addr is where the portmapper answers (TCP and UDP), HOST:111; an
	// empty host is every interface. Registration with a running
	// rpcbind goes to the same port, on the loopback when the host is
	// empty.
	Addr string
	// Port is the TCP port of the NFS and MOUNT server.
	Port int
	// Timeout bounds each registration call to a running rpcbind.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Portmap modes, as Portmap.Mode reports them.
const (
	PortmapServing    = "serving"    // answering on Addr itself
	PortmapRegistered = "registered" // registered with the rpcbind at Addr
	PortmapOff        = "off"        // neither: clients need port options
)

// Portmap makes the NFS server discoverable: a portmapper v2 of its own
// on TCP and UDP when it can bind Addr, else a registration (SET, and
// UNSET at Close) with the rpcbind already there. Either way `rpcinfo -p`,
// `showmount -e` and a mount without port options find NFS and MOUNT.
// It answers NULL, GETPORT and DUMP; SET and UNSET from others get false
// (it is not a general rpcbind), CALLIT and rpcbind v3/v4 PROC_UNAVAIL
// and PROG_MISMATCH, which send clients to GETPORT v2.
type Portmap struct {
	cfg  PortmapConfig
	log  *slog.Logger
	maps []mapping
	mode string

	tcp net.Listener
	udp net.PacketConn

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// StartPortmap starts serving, or registers, as Portmap says. Failing to
// do either is not an error: it is logged, and Mode says PortmapOff.
func StartPortmap(ctx context.Context, cfg PortmapConfig) (*Portmap, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("nfsd: portmap: port %d out of range", cfg.Port)
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("nfsd: portmap: address %q: %w", cfg.Addr, err)
	}
	p := &Portmap{cfg: cfg, log: cfg.Logger, maps: mappings(uint32(cfg.Port)), conns: map[net.Conn]struct{}{}}
	var lc net.ListenConfig
	tcp, terr := lc.Listen(ctx, "tcp", cfg.Addr)
	udp, uerr := lc.ListenPacket(ctx, "udp", cfg.Addr)
	if terr == nil && uerr == nil {
		p.tcp, p.udp, p.mode = tcp, udp, PortmapServing
		p.wg.Add(2)
		go p.serveTCP()
		go p.serveUDP()
		p.log.Info("portmapper listening", "op", "portmap", "key", cfg.Addr)
		return p, nil
	}
	if tcp != nil {
		tcp.Close()
	}
	if udp != nil {
		udp.Close()
	}
	bindErr := errors.Join(terr, uerr)
	if err := p.register(ctx); err != nil {
		p.mode = PortmapOff
		p.log.Warn("no portmapper: cannot listen on the portmapper port nor register with a running rpcbind; clients must mount with port= and mountport=",
			"op", "portmap", "key", cfg.Addr, "err", errors.Join(bindErr, err))
		return p, nil
	}
	p.mode = PortmapRegistered
	p.log.Info("registered NFS and MOUNT with the running rpcbind", "op", "portmap", "key", p.rpcbindAddr())
	return p, nil
}

// Mode says how the server is discoverable: PortmapServing,
// PortmapRegistered or PortmapOff.
func (p *Portmap) Mode() string { return p.mode }

// Close stops serving, or unregisters from rpcbind, and waits for the
// connections being answered.
func (p *Portmap) Close() error {
	p.once.Do(func() {
		switch p.mode {
		case PortmapServing:
			p.tcp.Close()
			p.udp.Close()
			p.mu.Lock()
			for c := range p.conns {
				c.Close()
			}
			p.mu.Unlock()
			p.wg.Wait()
		case PortmapRegistered:
			ctx, cancel := context.WithTimeout(context.Background(), 2*p.cfg.Timeout)
			defer cancel()
			if err := p.unregister(ctx); err != nil {
				p.log.Warn("cannot unregister from rpcbind", "op", "portmap", "err", err)
			}
		}
	})
	return nil
}

func (p *Portmap) serveUDP() {
	defer p.wg.Done()
	buf := make([]byte, 8<<10)
	out := make([]byte, 0, 8<<10)
	for {
		n, from, err := p.udp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		e := encoder{b: out[:4]}
		if p.answer(&e, buf[:n]) {
			p.udp.WriteTo(e.b[4:], from)
		}
	}
}

func (p *Portmap) serveTCP() {
	defer p.wg.Done()
	for {
		c, err := p.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() {
				c.Close()
				p.mu.Lock()
				delete(p.conns, c)
				p.mu.Unlock()
			}()
			r := bufio.NewReader(c)
			for {
				c.SetReadDeadline(time.Now().Add(2 * time.Minute))
				buf, n, err := readRecord(r, smallBuf)
				if err != nil {
					return
				}
				e := encoder{b: make([]byte, 4, 512)}
				ok := p.answer(&e, (*buf)[:n])
				putBuf(buf)
				if !ok {
					continue
				}
				recordMark(e.b, 0)
				c.SetWriteDeadline(time.Now().Add(30 * time.Second))
				if _, err := c.Write(e.b); err != nil {
					return
				}
			}
		}()
	}
}

// answer decodes one portmapper call and writes its reply into e (after
// its 4 bytes for a record mark); false: no reply.
func (p *Portmap) answer(e *encoder, rec []byte) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("panic in portmapper", "op", "portmap", "err", fmt.Sprint(v), "path", string(debug.Stack()))
			ok = false
		}
	}()
	d := decoder{b: rec}
	h, err := decodeCall(&d)
	switch {
	case errors.Is(err, errNotCall) || len(rec) < 4:
		return false
	case err != nil:
		replyAccepted(e, h.xid, acceptGarbageArgs)
		return true
	case h.rpcvers != rpcVersion:
		replyDenied(e, h.xid, rejectRPCMismatch, 0)
		return true
	case h.prog != progPortmap:
		replyAccepted(e, h.xid, acceptProgUnavail)
		return true
	case h.vers != 2:
		replyAccepted(e, h.xid, acceptProgMismatch)
		e.uint32(2)
		e.uint32(2)
		return true
	}
	replyAccepted(e, h.xid, acceptSuccess)
	switch h.proc {
	case 0:
	case pmapProcSet, pmapProcUnset:
		d.uint32()
		d.uint32()
		d.uint32()
		d.uint32()
		if d.err != nil {
			replyAccepted(e, h.xid, acceptGarbageArgs)
			return true
		}
		e.bool(false)
	case pmapProcGetport:
		prog, vers, prot := d.uint32(), d.uint32(), d.uint32()
		d.uint32()
		if d.err != nil {
			replyAccepted(e, h.xid, acceptGarbageArgs)
			return true
		}
		e.uint32(lookupPort(p.all(), prog, vers, prot))
	case pmapProcDump:
		encodeDump(e, p.all())
	default:
		replyAccepted(e, h.xid, acceptProcUnavail)
	}
	return true
}

// all is the portmapper itself and what it maps.
func (p *Portmap) all() []mapping {
	return append([]mapping{{progPortmap, 2, ipprotoTCP, PortmapPort}, {progPortmap, 2, ipprotoUDP, PortmapPort}}, p.maps...)
}

// rpcbindAddr is where a running rpcbind is asked to register us.
func (p *Portmap) rpcbindAddr() string {
	host, port, _ := net.SplitHostPort(p.cfg.Addr)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// register replaces any registration of our programs with ours.
func (p *Portmap) register(ctx context.Context) error {
	for _, m := range p.maps {
		if _, err := p.pmapCall(ctx, pmapProcUnset, m); err != nil {
			return err
		}
		ok, err := p.pmapCall(ctx, pmapProcSet, m)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("nfsd: rpcbind at %s refused to register program %d version %d", p.rpcbindAddr(), m.prog, m.vers)
		}
	}
	return nil
}

func (p *Portmap) unregister(ctx context.Context) error {
	var errs []error
	for _, m := range p.maps {
		if _, err := p.pmapCall(ctx, pmapProcUnset, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// pmapCall sends one SET or UNSET to the rpcbind over UDP, retrying
// within the timeout, and returns its boolean result.
func (p *Portmap) pmapCall(ctx context.Context, proc uint32, m mapping) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", p.rpcbindAddr())
	if err != nil {
		return false, fmt.Errorf("nfsd: rpcbind: %w", err)
	}
	defer c.Close()
	var xidb [4]byte
	binary.BigEndian.PutUint32(xidb[:], uint32(time.Now().UnixNano()))
	xid := binary.BigEndian.Uint32(xidb[:])
	e := encoder{}
	for _, v := range []uint32{xid, msgCall, rpcVersion, progPortmap, 2, proc, authFlavNone, 0, authFlavNone, 0,
		m.prog, m.vers, m.prot, m.port} {
		e.uint32(v)
	}
	buf := make([]byte, 512)
	for ctx.Err() == nil {
		if _, err := c.Write(e.b); err != nil {
			return false, fmt.Errorf("nfsd: rpcbind: %w", err)
		}
		dl := time.Now().Add(300 * time.Millisecond)
		if t, ok := ctx.Deadline(); ok && t.Before(dl) {
			dl = t
		}
		c.SetReadDeadline(dl)
		for {
			n, err := c.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // resend
				}
				return false, fmt.Errorf("nfsd: rpcbind: %w", err)
			}
			r := decoder{b: buf[:n]}
			if r.uint32() != xid || r.uint32() != msgReply {
				continue
			}
			if r.uint32() != msgAccepted {
				return false, fmt.Errorf("nfsd: rpcbind at %s denied the call", p.rpcbindAddr())
			}
			r.uint32()
			r.opaque(maxAuthBody)
			if st := r.uint32(); st != acceptSuccess || r.err != nil {
				return false, fmt.Errorf("nfsd: rpcbind at %s: accept status %d", p.rpcbindAddr(), st)
			}
			return r.uint32() != 0, r.err
		}
	}
	return false, fmt.Errorf("nfsd: rpcbind at %s: no answer: %w", p.rpcbindAddr(), ctx.Err())
}
