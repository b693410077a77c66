//go:build !linux

package ldaptest

import "os/exec"

func setProcAttr(cmd *exec.Cmd) {}
