# c
@PROBLEMNAME T
@Dimensions 2
@ClassLabel true x y
@data
1,?,3:4,5,6:x
7,8:9,10:y
