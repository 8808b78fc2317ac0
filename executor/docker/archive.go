package docker

import (
	"archive/tar"
	"bytes"
	"fmt"
	"strings"
)

// file is one file to put into a container or a build context.
type file struct {
	path string // absolute in the container, or relative in a context
	mode int64
	data []byte
}

// tarFiles returns an in-memory tar of files (paths made relative to /),
// owned by uid, with a zero mtime so equal inputs give equal bytes. The
// extraction creates missing parent directories, so images without /etc
// (FROM scratch) work.
func tarFiles(files []file, uid int) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     strings.TrimPrefix(f.path, "/"),
			Mode:     f.mode,
			Size:     int64(len(f.data)),
			Uid:      uid,
			Gid:      uid,
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.path, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return &buf, nil
}
