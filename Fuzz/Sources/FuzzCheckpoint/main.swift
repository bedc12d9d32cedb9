import Foundation
import RNNKit

/// Each input is a config.json for two small checkpoint folders with fixed weights (Fuzz/Folders:
/// a classifier and a language model). Loading either folder, for evaluation or to resume, either
/// succeeds or throws a `DataError`: never a trap, and never an allocation the machine cannot make.
let folders: [String] = {
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Folders").standardizedFileURL
    let work = NSTemporaryDirectory() + "rnnkit-fuzz-checkpoint-\(getpid())"
    try? FileManager.default.removeItem(atPath: work)
    try! FileManager.default.copyItem(atPath: source.path, toPath: work)
    return ["classifier", "charlm"].map { work + "/" + $0 }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let config = Data(UnsafeBufferPointer(start: start, count: count))
    for folder in folders {
        try! config.write(to: URL(fileURLWithPath: folder + "/config.json"))
        for resume in [false, true] {
            _ = try? ClassifierCheckpoint.load(from: folder, forResume: resume)
            _ = try? CharLMCheckpoint.load(from: folder, forResume: resume)
        }
    }
    return 0
}
