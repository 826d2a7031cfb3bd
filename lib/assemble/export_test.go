package assemble

// CopyLayerFile is copyLayerFile, for tests of a layer file that changes
// between Native's size check and the copy.
var CopyLayerFile = copyLayerFile
