// SwiftPM needs one C source in a C target; the target exists only to expose CZlib.h.
#include "CZlib.h"
