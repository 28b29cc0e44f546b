// The journal's location fields (CODE_FILE, CODE_LINE, CODE_FUNC) come from the Swift caller,
// not from this header.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
