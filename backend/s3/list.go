package s3

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/filegate/filegate/backend"
)

// maxRune sorts after every valid UTF-8 sequence of one character, so
// P+maxRune as StartAfter skips every key under the prefix P.
const maxRune = "\U0010FFFF"

// List implements backend.Store with ListObjectsV2, one page at a time:
// at most ListPageSize keys are held, however many match. ListObjectsV2
// returns no user metadata, so an object is read with HEAD, and so is a
// common prefix's marker (for the directory's own mode and owner),
// StatConcurrency at a time and delivered to fn in order as soon as it
// and those before it are in. An object deleted between the listing and
// its HEAD is skipped; a prefix whose marker is missing is delivered
// bare.
//
// No HEAD is sent for what opts.Known says the caller holds: a common
// prefix, an AnyVersion key, or an object whose listing shows the
// caller's version, which is the same content ETag and size. A change
// of metadata alone (a chmod or touch by another tool, a CopyObject
// that keeps the content) leaves both alone, so such an object is
// delivered Known with the caller's ETag: the listing cannot show it.
//
// Keys travel URL-encoded (encoding-type=url), so names with control
// characters, which XML 1.0 cannot carry, list like any other.
func (s *Store) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: list: %w", err)
	}
	if opts.Delimiter != "" && opts.Delimiter != "/" {
		return fmt.Errorf("s3: list: unsupported delimiter %q", opts.Delimiter)
	}
	if !prefixCanMatch(opts.Prefix) {
		return nil
	}
	in := &s3.ListObjectsV2Input{
		Bucket:       &s.cfg.Bucket,
		Prefix:       aws.String(s.objectKey(opts.Prefix)),
		MaxKeys:      aws.Int32(int32(s.cfg.ListPageSize)),
		EncodingType: types.EncodingTypeUrl,
	}
	if opts.Delimiter != "" {
		in.Delimiter = aws.String(opts.Delimiter)
	}
	if sa := s3StartAfter(opts); sa != "" {
		in.StartAfter = aws.String(s.objectKey(sa))
	}
	for {
		start := time.Now()
		out, err := s.client.ListObjectsV2(ctx, in)
		s.done("list", opts.Prefix, start, err)
		if err != nil {
			return wrapErr("list", opts.Prefix, err)
		}
		items, err := s.pageItems(out, opts.StartAfter)
		if err != nil {
			return err
		}
		if opts.KeysOnly {
			err = deliverKeys(items, fn)
		} else {
			err = s.deliver(ctx, items, opts.Known, fn)
		}
		if err != nil {
			if errors.Is(err, backend.ErrStopList) {
				return nil
			}
			return err
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// s3StartAfter is the StartAfter to send. With a delimiter, when
// StartAfter lies inside a common prefix, that prefix is not after it,
// so every key under it is skipped in the request rather than paged
// through and dropped here (a resumed listing of a directory holding a
// big subdirectory would read all of the subdirectory otherwise).
func s3StartAfter(opts backend.ListOptions) string {
	sa := opts.StartAfter
	if sa == "" || opts.Delimiter == "" || !strings.HasPrefix(sa, opts.Prefix) {
		return sa
	}
	if i := strings.IndexByte(sa[len(opts.Prefix):], '/'); i >= 0 {
		return max(sa, sa[:len(opts.Prefix)+i+1]+maxRune)
	}
	return sa
}

// listItem is an object or a common prefix of a page, in key order,
// with what the listing says of an object.
type listItem struct {
	key     string
	prefix  bool
	size    int64
	modTime time.Time
	etag    string // S3's, without quotes
}

// pageItems merges a page's objects and common prefixes in key order,
// without our prefix, dropping those not after startAfter.
func (s *Store) pageItems(out *s3.ListObjectsV2Output, startAfter string) ([]listItem, error) {
	decode := func(raw *string) (string, error) {
		k, err := url.QueryUnescape(aws.ToString(raw))
		if err != nil {
			return "", fmt.Errorf("s3: list: undecodable key %q: %w", aws.ToString(raw), err)
		}
		return k, nil
	}
	objs := make([]listItem, 0, len(out.Contents))
	for _, o := range out.Contents {
		k, err := decode(o.Key)
		if err != nil {
			return nil, err
		}
		objs = append(objs, listItem{key: k, size: aws.ToInt64(o.Size), modTime: aws.ToTime(o.LastModified),
			etag: strings.Trim(aws.ToString(o.ETag), `"`)})
	}
	prefixes := make([]listItem, 0, len(out.CommonPrefixes))
	for _, p := range out.CommonPrefixes {
		k, err := decode(p.Prefix)
		if err != nil {
			return nil, err
		}
		prefixes = append(prefixes, listItem{key: k, prefix: true})
	}
	items := make([]listItem, 0, len(objs)+len(prefixes))
	add := func(it listItem) {
		k, ok := strings.CutPrefix(it.key, s.cfg.Prefix)
		if ok && k != "" && k > startAfter {
			it.key = k
			items = append(items, it)
		}
	}
	i, j := 0, 0
	for i < len(objs) || j < len(prefixes) {
		if j >= len(prefixes) || i < len(objs) && objs[i].key < prefixes[j].key {
			add(objs[i])
			i++
		} else {
			add(prefixes[j])
			j++
		}
	}
	return items, nil
}

// known returns the item as the caller holds it, when known says the
// caller holds it in the version the listing shows, so no HEAD is
// needed. ETags compare by their S3 part: ours append a hash of our
// metadata (see etag), which the listing does not carry.
func known(it listItem, known func(string) (backend.Known, bool)) (backend.ObjectInfo, bool) {
	if known == nil {
		return backend.ObjectInfo{}, false
	}
	k, ok := known(it.key)
	if !ok {
		return backend.ObjectInfo{}, false
	}
	info := backend.ObjectInfo{Key: it.key, Prefix: it.prefix, Size: it.size, ModTime: it.modTime, Known: true}
	switch {
	case it.prefix || k.AnyVersion:
		return info, true
	case k.Size == it.size && it.etag != "" && contentETag(k.ETag) == it.etag:
		info.ETag = k.ETag
		return info, true
	}
	return backend.ObjectInfo{}, false
}

// deliver calls fn for each item in order, reading objects' metadata
// (and prefixes' markers') with HEADs that run up to StatConcurrency
// ahead of fn, except for items known says need none.
func (s *Store) deliver(ctx context.Context, items []listItem, knownFn func(string) (backend.Known, bool), fn func(backend.ObjectInfo) error) error {
	type result struct {
		info backend.ObjectInfo
		err  error
		done chan struct{}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: defers run last first
	defer cancel()
	results := make([]result, len(items))
	next := 0
	launch := func(upto int) {
		for ; next < len(items) && next <= upto; next++ {
			r, it := &results[next], items[next]
			r.done = make(chan struct{})
			if info, ok := known(it, knownFn); ok {
				r.info = info
				close(r.done)
				continue
			}
			wg.Go(func() {
				defer close(r.done)
				out, err := s.head(ctx, it.key)
				switch {
				case err == nil:
					r.info = headInfo(it.key, out)
					r.info.Prefix = it.prefix
				case it.prefix && errors.Is(err, fs.ErrNotExist):
					r.info = backend.ObjectInfo{Key: it.key, Prefix: true} // no marker
				default:
					r.err = err
				}
			})
		}
	}
	for i := range items {
		launch(i + s.cfg.StatConcurrency - 1)
		r := &results[i]
		<-r.done
		if r.err != nil {
			if errors.Is(r.err, fs.ErrNotExist) {
				continue // deleted since it was listed
			}
			return fmt.Errorf("s3: list: %w", r.err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("s3: list: %w", err)
		}
		if err := fn(r.info); err != nil {
			return err
		}
	}
	return nil
}

// prefixCanMatch reports whether some valid key starts with p: every
// whole component of p is a valid name, and what follows the last "/"
// could begin one. Listing a prefix no key can have returns nothing
// without asking the server, which might clean a path such as "a//".
func prefixCanMatch(p string) bool {
	if p == "" {
		return true
	}
	if len(p) > backend.MaxKeyBytes || strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		return false
	}
	i := strings.LastIndexByte(p, '/')
	if i >= 0 && backend.ValidateKey(p[:i+1]) != nil {
		return false
	}
	return len(p)-i-1 <= backend.MaxNameBytes
}

// deliverKeys calls fn with the keys alone, for ListOptions.KeysOnly.
func deliverKeys(items []listItem, fn func(backend.ObjectInfo) error) error {
	for _, it := range items {
		if err := fn(backend.ObjectInfo{Key: it.key, Prefix: it.prefix}); err != nil {
			return err
		}
	}
	return nil
}
