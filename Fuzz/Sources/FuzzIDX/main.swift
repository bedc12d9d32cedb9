import Foundation
import RNNKit

/// IDX files, raw or gzip: every input either decodes to sizes that match its data or throws a `DataError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    for path in ["fuzz-idx3-ubyte", "fuzz-idx3-ubyte.gz"] {
        if let array = try? IDX.decode(bytes, path: path) {
            precondition(array.dimensions.reduce(1, *) == array.bytes.count, "sizes and data disagree")
        }
    }
    return 0
}
