package client

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"time"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	ID    string // the last id seen on the stream, as the spec keeps it
	HasID bool   // whether this event set the id
	Type  string // "message" when the event named none
	Data  []byte
}

// sseReader reads server-sent events (the text/event-stream format of the
// HTML standard) from a stream: "field: value" lines, events ended by a
// blank line, comments (heartbeats) starting with a colon.
type sseReader struct {
	r      *bufio.Reader
	lastID string
	// retry is the reconnection time the server asked for, if any.
	retry time.Duration
	// onComment, if set, is called for every comment line (a heartbeat).
	onComment func()
}

// maxLine bounds one line of the stream.
const maxLine = 1 << 20

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// readLine returns one line without its ending (LF, CRLF or CR-less).
func (s *sseReader) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := s.r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, errLineTooLong
		}
		if !isPrefix {
			return line, nil
		}
	}
}

type sseError string

func (e sseError) Error() string { return string(e) }

const errLineTooLong = sseError("watch stream: a line is longer than 1 MiB")

// next returns the next event with data, or the reading error (io.EOF when
// the server closed the stream).
func (s *sseReader) next() (sseEvent, error) {
	var (
		ev      sseEvent
		data    bytes.Buffer
		hasData bool
	)
	for {
		line, err := s.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		if len(line) == 0 { // dispatch
			if !hasData {
				ev = sseEvent{}
				continue
			}
			ev.ID = s.lastID
			if ev.Type == "" {
				ev.Type = "message"
			}
			ev.Data = data.Bytes()
			return ev, nil
		}
		if line[0] == ':' {
			if s.onComment != nil {
				s.onComment()
			}
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			ev.Type = string(value)
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.Write(value)
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				s.lastID = string(value)
				ev.HasID = true
			}
		case "retry":
			if ms, err := strconv.ParseUint(string(value), 10, 32); err == nil {
				s.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}
