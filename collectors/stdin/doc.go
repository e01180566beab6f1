// Package stdin is Vigil's standard-input input: it reads lines from
// os.Stdin (or any io.Reader) and hands them on in batches, for
// `tail -F x | vigil collect` and for replaying a file through a pipe.
//
// Data enters as bytes on the reader and leaves as input.Record batches
// (Source "stdin" and the line's byte offset in the stream). A reader
// goroutine fills a bounded queue; when the handler is slow the reader
// stops reading, so the writer of the pipe blocks. Run returns at the end
// of the input, after the last batch was delivered.
package stdin
