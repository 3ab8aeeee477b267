// Package envfile reads and rewrites .env files without disturbing them.
//
// capy encrypts every value of a project's .env and writes the file back in
// place, each value replaced by a capy: snippet. The file is the
// developer's: its comments, blank lines, order, export prefixes, quoting,
// spacing and line endings are theirs, and a rewrite that reformats them
// produces noisy diffs and lost notes. So Parse keeps every byte: an
// unchanged Document serialises to exactly its input, and Set replaces only
// the bytes of one entry's value (adjusting its quotes only when the new
// value needs it).
//
// What a value means is decided by github.com/joho/godotenv v1.5.1, which is
// what the projects capy serves already use: Entry.Value is the value as
// godotenv reads it (quotes removed, escapes processed) but before godotenv's
// ${VAR} expansion, which Expand performs separately, because the value that
// is encrypted must be the text the developer wrote, not its expansion.
// Tests compare this package with godotenv differentially on a corpus and
// under fuzzing. Where this package is stricter than godotenv (duplicate or
// malformed names, text after a closing quote, invalid UTF-8, stray carriage
// returns and other line breaks that hide text), it refuses the file with a
// SyntaxError naming the line; docs/envfile.md lists every such decision.
//
// Errors never contain value text: values are secrets.
//
// WriteFileAtomic is the one I/O helper, a wrapper of privfile.WriteAtomic:
// it replaces a file atomically (temporary file in the same directory,
// fsync, rename, fsync of the directory), refuses to write through a
// symbolic link, and removes the temporary files that earlier, killed
// writes of the same file left behind.
package envfile
