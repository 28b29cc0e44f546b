print("dlad")
