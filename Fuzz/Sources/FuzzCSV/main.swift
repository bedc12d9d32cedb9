import Foundation
import RNNKit

/// Long-form CSV: every input either reads (first column the sequence id, last the label, per
/// sequence and per step) into a consistent sequence set, or throws a `DataError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    guard let table = try? CSVTable.parse(bytes, path: "fuzz.csv", columns: nil) else { return 0 }
    precondition(table.columns.values.allSatisfy { $0.count == table.rowCount }, "a column of another length")
    guard table.header.count >= 2 else { return 0 }
    for perStep in [false, true] {
        let columns = LongFormColumns(id: table.header.first, label: table.header.last)
        guard let (data, ids, _) = try? SequenceDataset.longForm(table, columns: columns, perStep: perStep, objective: nil, path: "fuzz.csv")
        else { continue }
        precondition(ids.count == data.count && data.offsets.last! == table.rowCount, "rows lost or invented")
        precondition(data.offsets.last! * data.features == data.values.count, "offsets do not cover the values")
        _ = data.examples(0..<data.count)
    }
    return 0
}
