import Foundation
import RNNKit

/// safetensors files: every input either decodes to tensors whose shapes match their data, and
/// re-encodes to bytes that decode to the same tensors, or throws a `DataError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    _ = try? SafeTensors.decode(bytes, path: "fuzz.safetensors", as: Double.self)
    if let (tensors, metadata) = try? SafeTensors.decode(bytes, path: "fuzz.safetensors", as: Float.self) {
        let again = try! SafeTensors.decode(SafeTensors.encode(tensors, metadata: metadata), path: "again", as: Float.self)
        precondition(again.metadata == metadata && again.tensors.keys == tensors.keys, "round trip changed the file")
        for (name, t) in tensors {
            precondition(again.tensors[name]!.shape == t.shape, "round trip changed \(name)'s shape")
        }
    }
    return 0
}
