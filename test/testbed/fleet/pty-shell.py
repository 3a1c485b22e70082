# Runs a program on a real pseudo-terminal for the exec test server: stdin and
# stdout are relayed, fd 3 carries one JSON {"Width","Height"} per line to
# resize the terminal (the kernel then sends SIGWINCH, as with a kubelet), and
# the exit status is the program's own.
import json, os, pty, select, signal, struct, sys, fcntl, termios

argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.environ['TERM'] = 'xterm-256color'
    os.execv(argv[0], argv)

def resize(line):
    try:
        size = json.loads(line)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', int(size['Height']), int(size['Width']), 0, 0))
    except Exception:
        pass

inputs = [0, 3, fd]
pending = b''
while True:
    try:
        ready, _, _ = select.select(inputs, [], [])
    except InterruptedError:
        continue
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b''
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if not data:
            inputs.remove(0)
            os.kill(pid, signal.SIGHUP)
        else:
            os.write(fd, data)
    if 3 in ready:
        data = os.read(3, 4096)
        if not data:
            inputs.remove(3)
        else:
            pending += data
            while b'\n' in pending:
                line, pending = pending.split(b'\n', 1)
                resize(line)

_, status = os.waitpid(pid, 0)
if os.WIFEXITED(status):
    sys.exit(os.WEXITSTATUS(status))
sys.exit(128 + os.WTERMSIG(status))
