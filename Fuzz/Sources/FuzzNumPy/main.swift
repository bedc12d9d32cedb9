import Foundation
import RNNKit

/// NumPy `.npy` arrays and `.npz` archives (inputs starting with the zip signature `PK`): every
/// input either reads into arrays whose elements match their shapes, and from them into a
/// consistent sequence set, or throws a `DataError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNumPy(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    let arrays: [String: NumPyArray]
    if bytes.starts(with: [0x50, 0x4B]) {
        // Archives are read from files (see NumPy.readArchive).
        let path = NSTemporaryDirectory() + "rnnkit-fuzz-\(getpid()).npz"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let a = try? NumPy.readArchive(path: path) else { return 0 }
        arrays = a
    } else {
        guard let x = try? NumPy.parse(bytes, path: "fuzz.npy") else { return 0 }
        arrays = ["x": x]
    }
    for (_, array) in arrays {
        switch array.elements {
        case let .floats(v): precondition(v.count == array.count, "elements do not match the shape")
        case let .integers(v): precondition(v.count == array.count, "elements do not match the shape")
        case let .strings(v): precondition(v.count == array.count, "elements do not match the shape")
        }
    }
    guard let x = arrays["x"],
          let data = try? SequenceDataset(numPy: x, labels: arrays["y"], lengths: arrays["lengths"], path: "fuzz.npz") else { return 0 }
    precondition(data.offsets.last! * data.features == data.values.count, "offsets do not cover the values")
    _ = data.examples(0..<data.count)
    return 0
}
