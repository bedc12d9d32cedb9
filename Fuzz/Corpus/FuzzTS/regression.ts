@problemName R
@targetLabel true
@data
0.5,1.5:2.0
1e3,-2:-1.25
