@_exported import LatentCore
