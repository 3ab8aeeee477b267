//go:build !unix

package workspace

// keyFileNoFollow is 0 where open has no O_NOFOLLOW; the Lstat before the
// open and the Stat after it still refuse a symlink.
const keyFileNoFollow = 0
