import Foundation
import RNNKit
import Testing

@Suite struct SafeTensorsTests {
    @Test func roundTripKeepsEveryBitAndTheMetadata() throws {
        var g = SeededGenerator(seed: 51)
        let tensors: [String: Tensor<Float>] = [
            "rnn.weight_ih_l0": try randomTensor([8, 3], &g), "fc.bias": try randomTensor([5], &g),
            "empty": try Tensor(repeating: 0, shape: [0, 4]),
        ]
        let bytes = SafeTensors.encode(tensors, metadata: ["format": "pt"])
        #expect((8 + Int(bytes[0])) % 8 == 0, "data starts 8-byte aligned")
        let (decoded, metadata) = try SafeTensors.decode(bytes, path: "x", as: Float.self)
        #expect(decoded == tensors)
        #expect(metadata == ["format": "pt"])
        let asDouble = try SafeTensors.decode(bytes, path: "x", as: Double.self).tensors
        #expect(asDouble["fc.bias"]?.scalars == tensors["fc.bias"]!.scalars.map(Double.init))
    }

    /// A file laid out by hand, byte for byte as the format's specification describes.
    @Test func readsAHandWrittenFile() throws {
        let json = Array(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8)
        var bytes: [UInt8] = [UInt8(json.count), 0, 0, 0, 0, 0, 0, 0] + json
        for v: Float in [1.5, -2] { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        #expect(try SafeTensors.decode(bytes, path: "x", as: Float.self).tensors["a"]?.scalars == [1.5, -2])
    }

    static func file(_ header: String, dataBytes: Int = 8, length: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        var bytes = [UInt8]()
        withUnsafeBytes(of: (length ?? UInt64(json.count)).littleEndian) { bytes += $0 }
        return bytes + json + Array(repeating: 0, count: dataBytes)
    }

    static let malformed: [(String, [UInt8], [String])] = [
        ("too short", [1, 2, 3], ["file too short"]),
        ("header length past the end", file("{}", length: 1000), ["bad header length", "found 1000"]),
        ("not JSON", file("{nope"), ["invalid JSON header"]),
        ("JSON array", file("[1]"), ["invalid JSON header", "another JSON value"]),
        ("unknown dtype", file(#"{"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}"#), ["unsupported dtype", "BF16", "float32"]),
        ("missing offsets", file(#"{"a":{"dtype":"F32","shape":[2]}}"#), ["bad entry for tensor 'a'"]),
        ("offsets out of range", file(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#), ["out of range", "[0, 16]"]),
        ("size and shape disagree", file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#), ["does not match its shape", "8 bytes"]),
        ("overlap", file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#),
         ["'a' and 'b' overlap"]),
        ("metadata not strings", file(#"{"__metadata__":{"n":1}}"#), ["bad __metadata__"]),
    ]

    @Test func rejectsMalformedFiles() {
        for (name, bytes, fragments) in Self.malformed {
            do {
                _ = try SafeTensors.decode(bytes, path: "model.safetensors", as: Float.self)
                Issue.record("\(name): accepted")
            } catch {  // decode throws only DataError
                for f in fragments { #expect(error.description.contains(f), "\(name): \(error)") }
                #expect(error.description.hasPrefix("model.safetensors: "))
            }
        }
    }
}
