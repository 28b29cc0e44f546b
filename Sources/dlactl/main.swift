print("dlactl")
