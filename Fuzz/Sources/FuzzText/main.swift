import Foundation
import RNNKit

/// Text files: every input either decodes as UTF-8, and then survives ANSI stripping and a
/// vocabulary round trip unchanged, or throws a `DataError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzText(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    guard let text = try? TextCorpus.decode(bytes, path: "fuzz.txt") else { return 0 }
    precondition(Array(text.utf8) == bytes, "decoding changed the text")
    let stripped = TextCorpus.removingANSIEscapes(text)
    guard !stripped.isEmpty else { return 0 }
    let vocabulary = Vocabulary(text: stripped)
    let ids = try! vocabulary.encode(stripped)
    precondition(vocabulary.decode(ids) == stripped, "vocabulary round trip changed the text")
    return 0
}
