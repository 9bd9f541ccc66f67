print("hotline")
