import Foundation
import RNNKit

/// UEA/UCR `.ts` files: every input either parses into a consistent data set (offsets covering the
/// values, labels one per case, finite or missing values) or throws a `DataError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTS(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    guard let data = try? TSFile.parse(bytes, path: "fuzz.ts") else { return 0 }
    precondition(data.offsets.last! * data.features == data.values.count, "offsets do not cover the values")
    precondition(data.values.allSatisfy { $0.isFinite || $0.isNaN }, "an infinite value was read")
    switch data.labels {
    case let .classes(ids, names): precondition(ids.count == data.count && ids.allSatisfy { $0 >= 0 && $0 < names.count })
    case let .targets(t, width): precondition(t.count == data.count * width)
    case .none: break
    }
    _ = data.examples(0..<data.count)
    return 0
}
