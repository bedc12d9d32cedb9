// SwiftPM needs one C source in a C target; the target exists only to expose CInflate.h.
#include "CInflate.h"
