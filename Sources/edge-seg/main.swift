print("edge-seg")
