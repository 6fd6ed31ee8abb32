package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// terminal is the file descriptor of f when it is a terminal.
func terminal(f any) (int, bool) {
	file, ok := f.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return 0, false
	}
	return int(file.Fd()), true
}

// askSecret asks for a password on the terminal without echo.
func askSecret(in io.Reader, prompt io.Writer, question string) (string, error) {
	fd, ok := terminal(in)
	if !ok {
		return "", errors.New("no terminal to ask for the password on: give it with --password-file FILE (- reads standard input)")
	}
	fmt.Fprint(prompt, question)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	return string(b), err
}
